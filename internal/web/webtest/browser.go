package webtest

import (
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// Browser keeps cookies and drives the environment's handler one request at
// a time, following redirects within Gatehouse and stopping at any other
// address (the application's).
type Browser struct {
	t   testing.TB
	e   *Env
	jar *cookiejar.Jar
	// RemoteAddr is the address requests come from.
	RemoteAddr string
}

// Browser returns a new browser with no cookies.
func (e *Env) Browser() *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &Browser{t: e.t, e: e, jar: jar, RemoteAddr: "198.51.100.7:40000"}
}

// Page is where a request ended: a Gatehouse page, or a redirect out of
// Gatehouse (Location set).
type Page struct {
	Status   int
	URL      *url.URL // the address of the last request
	Header   http.Header
	Body     string
	Location string // the address outside Gatehouse the browser was sent to
}

// Text is the text of the page's main part without tags, entities
// decoded, runs of space as one.
func (p *Page) Text() string {
	body := p.Body
	if _, main, ok := strings.Cut(body, "<main>"); ok {
		body = main
	}
	return strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(body, " "))), " ")
}

var tags = regexp.MustCompile(`<[^>]*>`)

// Contains reports whether the page's text says s.
func (p *Page) Contains(s string) bool { return strings.Contains(p.Text(), s) }

var issuerURL, _ = url.Parse(Issuer)

// Do sends one request and returns the response without following it.
// Every Gatehouse page it returns is checked to be well-formed HTML in the
// layout.
func (b *Browser) Do(method, target string, form url.Values) *Page {
	b.t.Helper()
	u := issuerURL.ResolveReference(mustParse(b.t, target))
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, u.String(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, u.String(), nil)
	}
	req.RemoteAddr = b.RemoteAddr
	for _, c := range b.jar.Cookies(u) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.e.Handler.ServeHTTP(rec, req)
	resp := rec.Result()
	if cs := resp.Cookies(); len(cs) > 0 {
		b.jar.SetCookies(u, cs)
	}
	p := &Page{Status: resp.StatusCode, URL: u, Header: resp.Header, Body: rec.Body.String()}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.Location = u.ResolveReference(mustParse(b.t, loc)).String()
	}
	if p.Location == "" {
		checkPage(b.t, p)
	}
	return p
}

// Follow sends a request and follows Gatehouse's redirects.
func (b *Browser) Follow(method, target string, form url.Values) *Page {
	b.t.Helper()
	p := b.Do(method, target, form)
	for range 20 {
		if p.Location == "" || p.Status < 300 || p.Status >= 400 {
			return p
		}
		next := mustParse(b.t, p.Location)
		if next.Host != issuerURL.Host {
			return p
		}
		p = b.Do(http.MethodGet, next.RequestURI(), nil)
	}
	b.t.Fatalf("too many redirects, last to %s", p.Location)
	return nil
}

// Get loads target, following redirects.
func (b *Browser) Get(target string) *Page {
	b.t.Helper()
	return b.Follow(http.MethodGet, target, nil)
}

// Post posts form to target as it is (no form token added), following
// redirects.
func (b *Browser) Post(target string, form url.Values) *Page {
	b.t.Helper()
	return b.Follow(http.MethodPost, target, form)
}

// Form is one form on a page.
type Form struct {
	Action string // as the page writes it, path and query
	CSRF   string
	Body   string
}

var (
	formRE  = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)"[^>]*>(.*?)</form>`)
	csrfRE  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	hiddens = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// Forms lists the page's forms.
func (p *Page) Forms() []Form {
	var out []Form
	for _, m := range formRE.FindAllStringSubmatch(p.Body, -1) {
		f := Form{Action: html.UnescapeString(m[1]), Body: m[2]}
		if c := csrfRE.FindStringSubmatch(m[2]); c != nil {
			f.CSRF = html.UnescapeString(c[1])
		}
		out = append(out, f)
	}
	return out
}

// Form returns the page's form posting to path (any query), or its first
// form when path is "".
func (b *Browser) Form(p *Page, path string) Form {
	b.t.Helper()
	for _, f := range p.Forms() {
		if action, _, _ := strings.Cut(f.Action, "?"); path == "" || action == path {
			return f
		}
	}
	b.t.Fatalf("no form posting to %q on %s (status %d):\n%s", path, p.URL, p.Status, p.Body)
	return Form{}
}

// Submit fills the page's first form with fields and its hidden inputs, and
// posts it, as a person pressing its button would.
func (b *Browser) Submit(p *Page, fields url.Values) *Page {
	b.t.Helper()
	return b.SubmitTo(p, "", fields)
}

// SubmitTo is Submit for the form posting to path.
func (b *Browser) SubmitTo(p *Page, path string, fields url.Values) *Page {
	b.t.Helper()
	f := b.Form(p, path)
	form := url.Values{}
	for _, h := range hiddens.FindAllStringSubmatch(f.Body, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	action := f.Action
	if action == "" {
		action = p.URL.RequestURI()
	}
	return b.Post(p.URL.ResolveReference(mustParse(b.t, action)).RequestURI(), form)
}

// FlowID is the sign-in flow the page belongs to.
func (p *Page) FlowID() string {
	if id := p.URL.Query().Get("flow"); id != "" {
		return id
	}
	for _, f := range p.Forms() {
		if u, err := url.Parse(f.Action); err == nil && u.Query().Get("flow") != "" {
			return u.Query().Get("flow")
		}
	}
	return ""
}

// Cookie is the browser's cookie name for path, "" when it has none.
func (b *Browser) Cookie(path, name string) string {
	for _, c := range b.jar.Cookies(issuerURL.ResolveReference(&url.URL{Path: path})) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// Params are an authorization request's parameters beyond the defaults.
type Params map[string]string

// Authorize starts a sign-in to the environment's application: code flow,
// scopes openid profile email, state "state-0001", with params added or
// replacing those ("" removes one).
func (b *Browser) Authorize(params Params) *Page {
	b.t.Helper()
	return b.Get(oauth.PathAuthorize + "?" + AuthorizeQuery(b.e.Client.ID, params).Encode())
}

// AuthorizeQuery is the query of an authorization request of clientID.
func AuthorizeQuery(clientID string, params Params) url.Values {
	q := url.Values{"client_id": {clientID}, "redirect_uri": {RedirectURI}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {"state-0001"}, "nonce": {"nonce-0001"}}
	for k, v := range params {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return q
}

// SignIn types username and password on the sign-in pages that p starts.
func (b *Browser) SignIn(p *Page, username, password string) *Page {
	b.t.Helper()
	if p.URL.Path != "/login/username" {
		b.t.Fatalf("expected the username page, got %d %s (to %q):\n%s", p.Status, p.URL, p.Location, p.Body)
	}
	p = b.Submit(p, url.Values{"username": {username}})
	if p.URL.Path != "/login/password" {
		b.t.Fatalf("expected the password page, got %d %s:\n%s", p.Status, p.URL, p.Body)
	}
	return b.Submit(p, url.Values{"password": {password}})
}

func mustParse(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u
}
