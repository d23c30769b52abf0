package web

import (
	"html"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPasswordPagesSayEveryRule: each page that takes a new password
// states every rule the server applies, name included.
func TestPasswordPagesSayEveryRule(t *testing.T) {
	r, err := newRenderer()
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{opt: Options{District: "Example School District", Domain: "district.example", MinPasswordLength: 12}}
	for _, name := range []string{"change_password", "account_password", "reset"} {
		p := h.page("New password")
		p.Reset = &resetView{Stage: resetPassword}
		w := httptest.NewRecorder()
		r.render(w, 200, name, p)
		body := html.UnescapeString(w.Body.String())
		for _, want := range []string{"At least 12 characters", "common password", "look-alikes", "repeated text", "keyboard row", "your name", "your username", "the district's name"} {
			if !strings.Contains(body, want) {
				t.Errorf("page %s does not say %q", name, want)
			}
		}
	}
}
