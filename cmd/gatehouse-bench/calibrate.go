package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Cost is what one primitive costs on this machine.
type Cost struct {
	Name     string  `json:"name"`
	CPUMicro float64 `json:"cpu_us"`  // CPU time per operation, all threads
	Wall     float64 `json:"wall_us"` // elapsed per operation
	N        int     `json:"n"`
}

// calibrateCmd measures the primitives the ceiling is built from,
// on this machine: the signatures, the password and client-secret hashes.
func calibrateCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	a2 := fs.String("argon2", "65536,3,2", "argon2id memory KiB, iterations, parallelism (Gatehouse password.argon2)")
	each := fs.Duration("each", time.Second, "how long to run each primitive (bounded to 200 000 runs)")
	out := fs.String("out", "", "write the costs as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var p [3]uint64
	for i, s := range strings.Split(*a2, ",") {
		if i > 2 {
			return fmt.Errorf("-argon2: want m,t,p")
		}
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return fmt.Errorf("-argon2: %w", err)
		}
		p[i] = v
	}
	digest := sha256.Sum256([]byte("header.payload"))
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa4096, _ := rsa.GenerateKey(rand.Reader, 4096)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	secret := make([]byte, 32)
	rand.Read(secret)
	salt := make([]byte, 16)
	prims := []struct {
		name string
		fn   func()
	}{
		{"RS256 sign, 2048-bit key (Gatehouse default)", func() { rsa.SignPKCS1v15(rand.Reader, rsa2048, crypto.SHA256, digest[:]) }},
		{"RS256 sign, 4096-bit key (Hydra default)", func() { rsa.SignPKCS1v15(rand.Reader, rsa4096, crypto.SHA256, digest[:]) }},
		{"RS256 verify, 2048-bit key", func() { rsa.VerifyPKCS1v15(&rsa2048.PublicKey, crypto.SHA256, digest[:], mustSign(rsa2048, digest[:])) }},
		{"ES256 sign", func() { ecdsa.SignASN1(rand.Reader, ec, digest[:]) }},
		{"EdDSA (Ed25519) sign", func() { ed25519.Sign(ed, digest[:]) }},
		{"HMAC-SHA256 of a token", func() { m := hmac.New(sha256.New, secret); m.Write(digest[:]); m.Sum(nil) }},
		{"SHA-256 of a client secret (Gatehouse)", func() { sha256.Sum256(secret) }},
		{"PBKDF2-HMAC-SHA256, 25,000 iterations (Hydra client secret)", func() { pbkdf2.Key(sha256.New, string(secret), salt, 25000, 32) }},
		{fmt.Sprintf("argon2id m=%d KiB t=%d p=%d (Gatehouse password)", p[0], p[1], p[2]), func() {
			argon2.IDKey(secret, salt, uint32(p[1]), uint32(p[0]), uint8(p[2]), 32)
		}},
		{"argon2id m=19456 KiB t=2 p=1 (OWASP minimum, for comparison)", func() {
			argon2.IDKey(secret, salt, 2, 19456, 1, 32)
		}},
	}
	var costs []Cost
	for _, pr := range prims {
		pr.fn() // warm up
		cpu0, t0 := selfCPUSeconds(), time.Now()
		n := 0
		for time.Since(t0) < *each && n < 200000 {
			pr.fn()
			n++
		}
		wall := time.Since(t0)
		cpu := selfCPUSeconds() - cpu0
		c := Cost{Name: pr.name, N: n, CPUMicro: cpu * 1e6 / float64(n), Wall: float64(wall.Microseconds()) / float64(n)}
		costs = append(costs, c)
		fmt.Fprintf(stdout, "%-62s %10.1f µs CPU %10.1f µs wall  (%d runs)\n", c.Name, c.CPUMicro, c.Wall, c.N)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(costs, "", " ")
		return os.WriteFile(*out, append(b, '\n'), 0o644)
	}
	return nil
}

var sigCache = map[*rsa.PrivateKey][]byte{}

func mustSign(k *rsa.PrivateKey, digest []byte) []byte {
	if s, ok := sigCache[k]; ok {
		return s
	}
	s, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest)
	sigCache[k] = s
	return s
}
