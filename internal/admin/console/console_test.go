package console

import "testing"

// TestSafeReturn: the page to return to after sign-in stays inside the
// console, whatever the query string says.
func TestSafeReturn(t *testing.T) {
	for in, want := range map[string]string{
		"/admin/users/42":         "/admin/users/42",
		"/admin/":                 "/admin/",
		"":                        "/admin/",
		"https://evil.example/":   "/admin/",
		"//evil.example/admin/":   "/admin/",
		"/admin//evil.example":    "/admin/",
		`/admin/\evil.example`:    "/admin/",
		"/admin/users?next=//x":   "/admin/",
		"/adminx/users":           "/admin/",
		"/oauth2/logout?confirm=": "/admin/",
	} {
		if got := safeReturn(in); got != want {
			t.Errorf("safeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}
