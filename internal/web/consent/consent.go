// Package consent asks a person to approve an application that requires
// it, showing what the application asked for in plain words.
package consent

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/steps"
)

// Handler serves the consent page.
type Handler struct {
	*steps.Runner
	pages *httpx.Pages
}

// New parses the page and returns the handler.
func New(run *steps.Runner) (*Handler, error) {
	pages, err := httpx.ParsePages("consent")
	if err != nil {
		return nil, err
	}
	return &Handler{Runner: run, pages: pages}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+steps.PathConsent, h.page)
	mux.HandleFunc("POST "+steps.PathConsent, h.submit)
}

var scopeText = map[string]string{
	"openid":         "Sign you in",
	"profile":        "See your name and username",
	"email":          "See your email address",
	"offline_access": "Keep access to what you allowed when you are not using it",
}

type consentPage struct {
	steps.Page
	Scopes []string // what the application asked for, in words
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadAt(w, r, flow.StepConsent)
	if !ok {
		return
	}
	p := consentPage{Page: h.Page(w, f, "Permissions requested")}
	q, _ := url.ParseQuery(f.Query)
	for _, s := range strings.Fields(q.Get("scope")) {
		if t, ok := scopeText[s]; ok {
			p.Scopes = append(p.Scopes, t)
		}
	}
	h.pages.Render(w, http.StatusOK, "consent", p)
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.LoadFormAt(w, r, flow.StepConsent)
	if !ok {
		return
	}
	allowed := r.PostFormValue("decision") == "allow"
	outcome := "denied"
	if allowed {
		outcome = "granted"
	}
	h.Audit.Record(r.Context(), audit.Event{Type: "consent." + outcome,
		SubjectID: f.UserID, ActorID: f.UserID, ClientID: f.ClientID, IP: httpx.ClientIP(r), UserAgent: r.UserAgent()})
	if !allowed {
		h.Deny(w, r, f, fosite.ErrAccessDenied.WithHint("The user declined."))
		return
	}
	f.Consented = true
	h.SaveAndAdvance(w, r, f)
}
