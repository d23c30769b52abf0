package identity

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

// Argon2Params are the argon2id cost parameters; stored in every PHC string
// so they can be raised later without invalidating old hashes.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// HashPassword returns the PHC string of password under p.
func HashPassword(password string, p Argon2Params) string {
	salt := secrets.RandomToken(saltLen)
	sum := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(sum))
}

var errBadHash = errors.New("identity: malformed password hash")

// parsePHC reads an argon2id PHC string.
func parsePHC(phc string) (p Argon2Params, salt, sum []byte, err error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Iterations, p.Parallelism) {
		return p, nil, nil, errBadHash
	}
	// Bounded so an imported hash cannot make one sign-in cost gigabytes.
	if p.MemoryKiB == 0 || p.Iterations == 0 || p.Parallelism == 0 || p.MemoryKiB > 1<<20 || p.Iterations > 20 {
		return p, nil, nil, errBadHash
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	if sum, err = b64.DecodeString(parts[5]); err != nil || len(sum) < 16 {
		return p, nil, nil, errBadHash
	}
	return p, salt, sum, nil
}

// ValidatePasswordHash reports whether phc is an argon2id PHC string this
// server can verify (used when importing pre-hashed passwords).
func ValidatePasswordHash(phc string) error {
	_, _, _, err := parsePHC(phc)
	return err
}

// VerifyPassword compares in constant time; a malformed hash never matches.
func VerifyPassword(phc, password string) bool {
	p, salt, sum, err := parsePHC(phc)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(sum)))
	return subtle.ConstantTimeCompare(got, sum) == 1
}

// needsRehash reports whether phc was made with other parameters than p.
func needsRehash(phc string, p Argon2Params) bool {
	got, _, _, err := parsePHC(phc)
	return err != nil || got != p
}
