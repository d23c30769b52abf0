package mfa_test

import (
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

// newRecoveryService is the service over a real database, with one person.
func newRecoveryService(t *testing.T) (*mfa.Service, *audit.Recorder, string) {
	t.Helper()
	db := testenv.SQL(t)
	u := identity.User{ID: "u1", Username: "mary@district.example", Email: "mary@district.example"}
	if err := db.CreateUser(t.Context(), &u); err != nil {
		t.Fatal(err)
	}
	kv, _ := newKV(t)
	rec := audit.NewRecorder(db, slog.New(slog.DiscardHandler))
	return mfa.NewService(db, testenv.ContactBox(t), kv, []byte("test hmac key"), discardMessages{}, rec,
		"Example School District", 10*time.Minute, 5), rec, u.ID
}

var codeShape = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

func TestRecoveryCodesAreReadableAndDistinct(t *testing.T) {
	s, _, user := newRecoveryService(t)
	codes, err := s.NewRecoveryCodes(t.Context(), user, user, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("%d codes, want %d", len(codes), mfa.RecoveryCodeCount)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !codeShape.MatchString(c) || seen[c] {
			t.Errorf("code %q: not xxxxx-xxxxx in the unambiguous alphabet, or repeated", c)
		}
		seen[c] = true
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	for typed, want := range map[string]string{
		"abcde-fgh23":      "abcdefgh23",
		" ABCDE FGH23 ":    "abcdefgh23",
		"O0IlL-zzzzz":      "00111zzzzz",
		"abcdefgh23":       "abcdefgh23",
		"abcde-fgh2":       "",
		"abcde-fgh234":     "",
		"abcde-fghu3":      "", // u is not in the alphabet
		"abcde_fgh23":      "",
		"":                 "",
		"ab\u00e9de-fgh23": "",
	} {
		got, ok := mfa.NormalizeRecoveryCode(typed)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q", typed, got, ok, want)
		}
	}
}

// TestRecoveryCodeWorksOnce: a code works once, however it is typed; a
// second use and a wrong code are refused; a new set voids the old one.
func TestRecoveryCodeWorksOnce(t *testing.T) {
	s, rec, user := newRecoveryService(t)
	ctx := t.Context()
	lim := mfa.Limits{VerifiesPerUser: 30, VerifiesPerIP: 200}
	codes, err := s.NewRecoveryCodes(ctx, user, user, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	left, err := s.UseRecoveryCode(ctx, user, " "+strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))+" ", "192.0.2.1", lim)
	if err != nil || left != mfa.RecoveryCodeCount-1 {
		t.Fatalf("first use = %d, %v", left, err)
	}
	if _, err := s.UseRecoveryCode(ctx, user, codes[0], "192.0.2.1", lim); !errors.Is(err, mfa.ErrRecoveryCodeUsed) {
		t.Fatalf("second use: %v, want ErrRecoveryCodeUsed", err)
	}
	if _, err := s.UseRecoveryCode(ctx, user, "zzzzz-zzzzz", "192.0.2.1", lim); !errors.Is(err, mfa.ErrRecoveryCodeInvalid) {
		t.Fatalf("a wrong code: %v, want ErrRecoveryCodeInvalid", err)
	}
	events, err := rec.List(ctx, audit.Filter{Type: "mfa.recovery_code_used"})
	if err != nil || len(events) != 1 || events[0].Details["left"] != "9" {
		t.Fatalf("audit of the use: %+v, %v", events, err)
	}

	again, err := s.NewRecoveryCodes(ctx, user, user, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UseRecoveryCode(ctx, user, codes[1], "192.0.2.1", lim); !errors.Is(err, mfa.ErrRecoveryCodeInvalid) {
		t.Fatalf("a code of the voided set: %v", err)
	}
	if st, err := s.RecoveryCodes(ctx, user); err != nil || st.Left != mfa.RecoveryCodeCount || st.LastUsed != nil {
		t.Fatalf("after regenerating: %+v, %v", st, err)
	}
	if _, err := s.UseRecoveryCode(ctx, user, again[9], "192.0.2.1", lim); err != nil {
		t.Fatalf("a code of the new set: %v", err)
	}
}

// TestRecoveryCodeGuessesAreLimited: wrong recovery codes count against the
// person's verify limit like any other code, so once it is reached even the
// right code is refused until the window passes.
func TestRecoveryCodeGuessesAreLimited(t *testing.T) {
	s, _, user := newRecoveryService(t)
	ctx := t.Context()
	lim := mfa.Limits{VerifiesPerUser: 5, VerifiesPerIP: 200}
	codes, err := s.NewRecoveryCodes(ctx, user, user, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := s.UseRecoveryCode(ctx, user, "zzzzz-zzzzz", "192.0.2.1", lim); !errors.Is(err, mfa.ErrRecoveryCodeInvalid) {
			t.Fatalf("a wrong code within the limit: %v", err)
		}
	}
	var le *mfa.LimitError
	if _, err := s.UseRecoveryCode(ctx, user, codes[0], "192.0.2.1", lim); !errors.As(err, &le) {
		t.Fatalf("the right code past the limit: %v, want a LimitError", err)
	}
	if st, _ := s.RecoveryCodes(ctx, user); st.Left != mfa.RecoveryCodeCount {
		t.Fatalf("a refused try used up a code: %+v", st)
	}
}

func TestRecoveryCodeIsOneTimePassword(t *testing.T) {
	if got := mfa.FactorRecoveryCode.AMR(); got != "otp" {
		t.Fatalf("amr = %q, want otp", got)
	}
}
