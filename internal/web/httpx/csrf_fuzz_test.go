package httpx

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// csrfPost is a POST carrying cookie (raw header value, "" for none) and a form token.
func csrfPost(cookie, formToken string) *http.Request {
	body := url.Values{"csrf_token": {formToken}}.Encode()
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		r.Header.Set("Cookie", csrfCookie+"="+cookie)
	}
	return r
}

func TestCSRFValidTokens(t *testing.T) {
	c := NewCSRF([]byte("0123456789abcdef0123456789abcdef"), false)
	other := NewCSRF([]byte("another key"), false)
	const id = "kR1YJ0xq2F7l4cWmZ3b8sVtN9aHgEoPdUiQyXw5rT6z"
	tests := []struct {
		name, cookie, token string
		want                bool
	}{
		{"matching", id, c.Token(id), true},
		{"no cookie", "", c.Token(id), false},
		{"no token", id, "", false},
		{"token of another browser", id, c.Token(id + "x"), false},
		{"token under another key", id, other.Token(id), false},
		{"cookie as token", id, id, false},
		{"truncated token", id, c.Token(id)[:42], false},
	}
	for _, tt := range tests {
		if got := c.Valid(csrfPost(tt.cookie, tt.token)); got != tt.want {
			t.Errorf("%s: valid = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func FuzzCSRFValid(f *testing.F) {
	f.Add([]byte("k"), "kR1YJ0xq2F7l4cWmZ3b8sVtN9aHgEoPdUiQyXw5rT6z", "", true)
	f.Add([]byte("k"), "abc", "abc", false)
	f.Add([]byte{}, "", "", false)
	f.Add([]byte("k"), "a;b", "", true)
	f.Add([]byte("k"), "\"quoted\"", "x", false)
	f.Fuzz(func(t *testing.T, key []byte, cookie, formToken string, useRight bool) {
		c := NewCSRF(key, false)
		r := csrfPost(cookie, "")
		ck, err := r.Cookie(csrfCookie)
		if useRight && err == nil {
			formToken = c.Token(ck.Value)
		}
		r = csrfPost(cookie, formToken)
		got := c.Valid(r)
		switch {
		case err != nil && got:
			t.Fatalf("accepted without a cookie (header %q)", cookie)
		case err == nil && got != (formToken == c.Token(ck.Value)):
			t.Fatalf("valid = %v for cookie %q, token %q", got, ck.Value, formToken)
		case err == nil && useRight && !got:
			t.Fatalf("refused the right token for cookie %q", ck.Value)
		}
	})
}
