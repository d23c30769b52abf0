package identity

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/secrets"
)

// testParams keeps argon2id cheap in tests; the parser needs non-zero values.
var testParams = Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

func TestHashVerifyRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery staple", "", "ünïcødé-🔑", strings.Repeat("x", 256)} {
		h := HashPassword(pw, testParams)
		if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("unexpected PHC prefix: %s", h)
		}
		if !VerifyPassword(h, pw) {
			t.Errorf("VerifyPassword(HashPassword(%q)) = false", pw)
		}
		if VerifyPassword(h, pw+"x") {
			t.Errorf("a wrong password verified against the hash of %q", pw)
		}
		if err := ValidatePasswordHash(h); err != nil {
			t.Errorf("ValidatePasswordHash(own hash) = %v", err)
		}
	}
}

func TestHashIsSalted(t *testing.T) {
	if HashPassword("same", testParams) == HashPassword("same", testParams) {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestNeedsRehash(t *testing.T) {
	h := HashPassword("pw", testParams)
	if needsRehash(h, testParams) {
		t.Error("a hash with the current parameters needs a rehash")
	}
	if !needsRehash(h, Argon2Params{MemoryKiB: 128, Iterations: 1, Parallelism: 1}) {
		t.Error("a hash with old parameters does not need a rehash")
	}
	if !needsRehash("garbage", testParams) {
		t.Error("a malformed hash does not need a rehash")
	}
}

// malformedPHC are strings that must never verify nor validate.
var malformedPHC = []string{
	"",
	"$",
	"$$$$$",
	"plaintext",
	"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", // bcrypt
	"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=64,t=1,p=256$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=64,t=101,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=4194305,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=-1,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + strings.Repeat("A", 43),                 // salt < 8 bytes
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$AAAA",                             // sum < 16 bytes
	"$argon2id$v=19$m=64,t=1,p=1$!!!!$" + strings.Repeat("A", 43),                   // bad base64
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43) + "=", // padded
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0",                                  // too few parts
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$AAAA$AAAA",                        // too many parts
	"$argon2id$v=x$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
	"$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
}

func TestMalformedHashesNeverMatch(t *testing.T) {
	for _, phc := range malformedPHC {
		if VerifyPassword(phc, "") || VerifyPassword(phc, "password") {
			t.Errorf("VerifyPassword(%q) = true", phc)
		}
		if ValidatePasswordHash(phc) == nil {
			t.Errorf("ValidatePasswordHash(%q) accepted a malformed hash", phc)
		}
	}
}

func TestTamperedHashDoesNotVerify(t *testing.T) {
	h := HashPassword("secret-password", testParams)
	// Change the digest's first character (the last one may carry only padding bits).
	b := []byte(h)
	i := strings.LastIndex(h, "$") + 1
	b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
	if VerifyPassword(string(b), "secret-password") {
		t.Fatal("a hash with a changed digest still verifies")
	}
	// Changing the cost parameters changes the digest too.
	other := strings.Replace(h, "m=64,", "m=65,", 1)
	if VerifyPassword(other, "secret-password") {
		t.Fatal("a hash with changed parameters still verifies")
	}
}

func FuzzVerifyPassword(f *testing.F) {
	unguessable := string(secrets.RandomToken(16))
	f.Add(HashPassword("pw", testParams), "pw2")
	for _, phc := range malformedPHC {
		f.Add(phc, "password")
	}
	f.Fuzz(func(t *testing.T, phc, password string) {
		// Skip costly but well-formed parameters: parsePHC allows up to 4 GiB.
		if p, _, _, err := parsePHC(phc); err == nil {
			mem := max(uint64(p.MemoryKiB), 8*uint64(p.Parallelism))
			if mem*uint64(p.Iterations) > 1<<14 {
				t.Skip("expensive parameters")
			}
		}
		// No input can know this password, so nothing may verify it.
		if VerifyPassword(phc, unguessable) {
			t.Fatalf("an arbitrary hash %q verified an unguessable password", phc)
		}
		// A hash that does verify (a real one, mutated from a seed) is well formed and verifies only its password.
		if VerifyPassword(phc, password) {
			if ValidatePasswordHash(phc) != nil {
				t.Fatalf("malformed hash %q verified %q", phc, password)
			}
			if VerifyPassword(phc, password+"x") {
				t.Fatalf("hash %q verified two passwords", phc)
			}
		}
		valid := ValidatePasswordHash(phc) == nil
		if _, _, _, err := parsePHC(phc); valid != (err == nil) {
			t.Fatalf("ValidatePasswordHash and parsePHC disagree on %q", phc)
		}
	})
}
