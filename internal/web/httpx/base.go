// Package httpx is the base every browser flow stands on: the layout and
// page rendering, CSRF, the client's address and device, request IDs, and
// errors shown as pages — an outage as a 503 that says when to try again.
package httpx

import (
	"fmt"
	"log/slog"
	"net/http"
)

// Site is what every page says about the district.
type Site struct {
	District, Domain                string
	HelpDeskURL, TroubleshootingURL string
	SecureCookies                   bool
}

// Base is shared by the flow packages' handlers.
type Base struct {
	Site   Site
	CSRF   *CSRF
	Logger *slog.Logger
	errors *Pages
}

// NewBase parses the error page and returns the base.
func NewBase(site Site, csrfKey []byte, logger *slog.Logger) (*Base, error) {
	errs, err := ParsePages("error")
	if err != nil {
		return nil, err
	}
	return &Base{Site: site, CSRF: NewCSRF(csrfKey, site.SecureCookies), Logger: logger, errors: errs}, nil
}

// Layout is a page's layout under title.
func (b *Base) Layout(title string) Layout {
	return Layout{Title: title, District: b.Site.District, Domain: b.Site.Domain,
		HelpDeskURL: b.Site.HelpDeskURL, TroubleshootingURL: b.Site.TroubleshootingURL}
}

// FormLayout is a page's layout with the browser's form token.
func (b *Base) FormLayout(w http.ResponseWriter, r *http.Request, title string) Layout {
	l := b.Layout(title)
	l.CSRF = b.CSRF.For(w, r)
	return l
}

// ErrorPage is the view of the error page.
type ErrorPage struct {
	Layout
	Message, Detail, RequestID string
	RetryURL                   string // "Try again" after an outage
}

// ErrorView is the error page for title and msg, for a caller that fills
// in more (a detail) before rendering it with ShowError.
func (b *Base) ErrorView(title, msg string) ErrorPage {
	return ErrorPage{Layout: b.Layout(title), Message: msg}
}

// ShowError renders an error page as it is.
func (b *Base) ShowError(w http.ResponseWriter, status int, v ErrorPage) {
	b.errors.Render(w, status, "error", v)
}

// Fail shows an error page; details go to the log, never to the user. A
// 503 (storage or a dependency did not answer) says when to retry and
// offers a button that repeats the page.
func (b *Base) Fail(w http.ResponseWriter, r *http.Request, status int, title, msg string, err error) {
	v := b.ErrorView(title, msg)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", RetryAfterSeconds)
		v.RetryURL = retryURL(r)
	}
	if err != nil {
		v.RequestID = RequestID(r.Context())
		b.Logger.Error(title, "err", err, "path", r.URL.Path, "request_id", v.RequestID)
	}
	b.ShowError(w, status, v)
}

// Busy is Fail for storage or a dependency that did not answer.
func (b *Base) Busy(w http.ResponseWriter, r *http.Request, title, msg string, err error) {
	b.Fail(w, r, http.StatusServiceUnavailable, title, msg, err)
}

// FormExpired answers a POST whose CSRF token does not match.
func (b *Base) FormExpired(w http.ResponseWriter, r *http.Request, title, msg string) {
	b.Fail(w, r, http.StatusForbidden, title, msg, nil)
}

// RetryAfterSeconds is how long a 503 asks the browser to wait.
const RetryAfterSeconds = "5"

// retryURL is the page "Try again" loads: the address WithRetryURL set, or
// the request's own (a POST's form page).
func retryURL(r *http.Request) string {
	if u, ok := r.Context().Value(retryKey).(string); ok {
		return u
	}
	return r.URL.RequestURI()
}

// NotFound renders the error page for unknown paths.
func (b *Base) NotFound(w http.ResponseWriter, r *http.Request) {
	b.Fail(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.", nil)
}

// Recover turns a panic into the generic error page instead of a stack trace.
func (b *Base) Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				b.Fail(w, r, http.StatusInternalServerError, "Something went wrong",
					"We couldn't complete your request. Try again in a moment.", fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
