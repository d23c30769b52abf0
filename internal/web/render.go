package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/gatehouse/gatehouse/templates"
)

// page is the data every template gets; each page reads the fields it needs.
type page struct {
	Title, District, Domain, CSRF, FlowID  string
	ClientName, Username, Error            string
	Message, Detail, RequestID             string
	RetryURL                               string // "Try again" after an outage
	Scopes                                 []string
	PasswordRule                           string // what a new password must be, in words
	PostLogoutRedirectURI, State, ClientID string
	Notice                                 string // a status line read out by screen readers
	HelpDeskURL, TroubleshootingURL        string
	Enroll                                 *enrollView
	Challenge                              *challengeView
	Account                                *accountView
	Questions                              *questionsView
	Reset                                  *resetView
}

// renderer holds one parsed template set per page, checked at start-up so a
// missing or broken page stops the server instead of failing a user.
type renderer struct{ pages map[string]*template.Template }

var pageNames = []string{"username", "password", "change_password", "consent", "error", "logout", "signed_out", "home", "enroll", "mfa", "account", "account_password", "questions", "reset"}

func newRenderer() (*renderer, error) {
	layout, err := fs.ReadFile(templates.FS, "layout.html")
	if err != nil {
		return nil, err
	}
	r := &renderer{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Parse(string(layout))
		if err == nil {
			t, err = t.ParseFS(templates.FS, "pages/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// render writes a page; it renders into a buffer first so a template error
// never leaves half a page behind.
func (r *renderer) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := r.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		http.Error(w, "The page could not be shown. Try again.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
