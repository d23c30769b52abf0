package mfa_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/testenv"
)

func newKV(t testing.TB) (*redisstore.Store, *testenv.Redis) {
	t.Helper()
	r := testenv.NewRedis(t)
	return redisstore.New(r.Client, r.Prefix), r
}

func newCodes(t testing.TB) (*mfa.Codes, *testenv.Redis) {
	kv, r := newKV(t)
	return &mfa.Codes{KV: kv, Key: []byte("test hmac key")}, r
}

func issue(t *testing.T, c *mfa.Codes, scope string) string {
	t.Helper()
	code, err := c.Issue(t.Context(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		t.Fatalf("Issue = %q, want 6 digits", code)
	}
	return code
}

// wrong returns a well-formed code other than code.
func wrong(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+1)%1_000_000)
}

func attemptsLeft(t *testing.T, c *mfa.Codes, scope string) int {
	t.Helper()
	n, err := c.AttemptsLeft(t.Context(), scope)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCodesIssueVerify(t *testing.T) {
	c, _ := newCodes(t)
	code := issue(t, c, "flow-1:sms")
	if n := attemptsLeft(t, c, "flow-1:sms"); n != 5 {
		t.Errorf("AttemptsLeft after Issue = %d, want 5", n)
	}
	if err := c.Verify(t.Context(), "flow-2:sms", code); !errors.Is(err, mfa.ErrCodeExpired) {
		t.Errorf("code for another scope = %v, want ErrCodeExpired", err)
	}
	if err := c.Verify(t.Context(), "flow-1:sms", code[:3]+" "+code[3:]); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := c.Verify(t.Context(), "flow-1:sms", code); !errors.Is(err, mfa.ErrCodeExpired) {
		t.Errorf("used code again = %v, want ErrCodeExpired", err)
	}
	if n := attemptsLeft(t, c, "flow-1:sms"); n != 0 {
		t.Errorf("AttemptsLeft after use = %d, want 0", n)
	}
}

func TestCodesTooManyAttempts(t *testing.T) {
	c, _ := newCodes(t)
	ctx := t.Context()
	code := issue(t, c, "s")
	for i := 1; i < 5; i++ {
		guess := wrong(code)
		if i == 2 {
			guess = "not a code" // still a guess
		}
		if err := c.Verify(ctx, "s", guess); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("wrong code %d = %v, want ErrInvalidCode", i, err)
		}
		if n := attemptsLeft(t, c, "s"); n != 5-i {
			t.Errorf("AttemptsLeft after %d wrong = %d, want %d", i, n, 5-i)
		}
	}
	if err := c.Verify(ctx, "s", wrong(code)); !errors.Is(err, mfa.ErrTooManyAttempts) {
		t.Fatalf("fifth wrong code = %v, want ErrTooManyAttempts", err)
	}
	if err := c.Verify(ctx, "s", code); !errors.Is(err, mfa.ErrCodeExpired) {
		t.Errorf("right code after too many = %v, want ErrCodeExpired", err)
	}

	code = issue(t, c, "s")
	if n := attemptsLeft(t, c, "s"); n != 5 {
		t.Errorf("AttemptsLeft after a new Issue = %d, want 5", n)
	}
	for range 4 {
		if err := c.Verify(ctx, "s", wrong(code)); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("wrong code = %v, want ErrInvalidCode", err)
		}
	}
	if err := c.Verify(ctx, "s", code); err != nil {
		t.Errorf("right code on the last attempt: %v", err)
	}
}

func TestCodesReissueReplaces(t *testing.T) {
	c, _ := newCodes(t)
	first := issue(t, c, "s")
	second := issue(t, c, "s")
	if first != second {
		if err := c.Verify(t.Context(), "s", first); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("replaced code = %v, want ErrInvalidCode", err)
		}
	}
	if err := c.Verify(t.Context(), "s", second); err != nil {
		t.Errorf("new code: %v", err)
	}
}

func TestCodesExpire(t *testing.T) {
	c, r := newCodes(t)
	r.NeedClock(t)
	c.TTL = time.Minute
	code := issue(t, c, "s")
	r.Mini.FastForward(time.Minute + time.Second)
	if err := c.Verify(t.Context(), "s", code); !errors.Is(err, mfa.ErrCodeExpired) {
		t.Errorf("expired code = %v, want ErrCodeExpired", err)
	}
}

func TestCodesStoredHashed(t *testing.T) {
	c, r := newCodes(t)
	ctx := t.Context()
	scope := "flow-1:+17045550112"
	code := issue(t, c, scope)
	if err := c.Verify(ctx, scope, wrong(code)); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatal(err)
	}
	keys, err := r.Client.Keys(ctx, r.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, k := range keys {
		if strings.Contains(k, "7045550112") || strings.Contains(k, "flow-1") {
			t.Errorf("key %q shows the scope", k)
		}
		if !strings.HasPrefix(k, r.Prefix+"code:") {
			continue
		}
		found = true
		v, err := r.Client.Get(ctx, k).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 32 || string(v) == code {
			t.Errorf("stored code %q: want a 32-byte HMAC", v)
		}
	}
	if !found {
		t.Errorf("no code key among %q", keys)
	}
}

func TestCodesNeedKey(t *testing.T) {
	kv, _ := newKV(t)
	if _, err := (&mfa.Codes{KV: kv}).Issue(t.Context(), "s"); err == nil {
		t.Error("Issue without a key: want an error")
	}
}

// FuzzCodesVerify tries arbitrary text, with the issued code spliced in when
// withCode is set: only text that is the code once spaces are removed may
// verify, and it always does.
func FuzzCodesVerify(f *testing.F) {
	for _, s := range []struct {
		before, after string
		withCode      bool
	}{
		{"", "", true}, {" ", " ", true}, {"1", "", true}, {"", "0", true}, {"+", "", true},
		{"", "", false}, {"123456", "", false}, {"000 000", "", false}, {"abcdef", "", false},
		{"１２３４５６", "", false}, {"12\x003456", "", false}, {"\t", "\n", true},
	} {
		f.Add(s.before, s.after, s.withCode)
	}
	c, _ := newCodes(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, before, after string, withCode bool) {
		code, err := c.Issue(ctx, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		guess := before + after
		if withCode {
			guess = before + code + after
		}
		err = c.Verify(ctx, "fuzz", guess)
		isCode := strings.Join(strings.Fields(guess), "") == code
		switch {
		case err == nil && !isCode:
			t.Errorf("Verify(%q) accepted; issued %q", guess, code)
		case err != nil && isCode:
			t.Errorf("Verify(%q) = %v; issued %q", guess, err, code)
		case err != nil && !errors.Is(err, mfa.ErrInvalidCode):
			t.Errorf("Verify(%q) = %v, want nil or ErrInvalidCode", guess, err)
		}
	})
}
