package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// newTransport is the one connection pool every virtual user shares, sized
// so that each keeps its connection alive between operations.
func newTransport(concurrency int) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // load stays on localhost, whatever the environment says
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4*concurrency + 64,
		MaxIdleConnsPerHost: 2*concurrency + 32,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// countingTransport counts the HTTP requests a virtual user makes.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

// browser is one person's user agent: cookies, redirects followed, except
// the one to the application's redirect URI, where the code is read.
type browser struct {
	c      *http.Client
	stopAt string
}

func newBrowser(rt http.RoundTripper, stopAt string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{stopAt: stopAt, c: &http.Client{Transport: rt, Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), stopAt) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 15 {
				return errors.New("stopped after 15 redirects")
			}
			return nil
		}}}
}

// cookie is a saved browser cookie (a signed-in session, kept between runs).
type cookie struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (b *browser) cookies(u *url.URL) []cookie {
	var out []cookie
	for _, c := range b.c.Jar.Cookies(u) {
		out = append(out, cookie{c.Name, c.Value})
	}
	return out
}

func (b *browser) setCookies(u *url.URL, cs []cookie) {
	hc := make([]*http.Cookie, len(cs))
	for i, c := range cs {
		hc[i] = &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"}
	}
	b.c.Jar.SetCookies(u, hc)
}

// page is a response as a person sees it.
type page struct {
	Status   int
	URL      *url.URL
	Body     string
	Location string
}

func (b *browser) do(req *http.Request) (*page, error) {
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	return &page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body), Location: resp.Header.Get("Location")}, nil
}

func (b *browser) get(ctx context.Context, u string) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

var (
	formRe = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// submit fills in the page's first form and posts it, as a person would.
func (b *browser) submit(ctx context.Context, p *page, fields url.Values) (*page, error) {
	action := formRe.FindStringSubmatch(p.Body)
	token := csrfRe.FindStringSubmatch(p.Body)
	if action == nil || token == nil {
		return nil, failf("page", fmt.Errorf("no form on %s (status %d): %.200q", p.URL.Path, p.Status, p.Body))
	}
	fields.Set("csrf_token", html.UnescapeString(token[1]))
	target, err := p.URL.Parse(html.UnescapeString(action[1]))
	if err != nil {
		return nil, failf("page", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// callback reads the authorization response from the redirect to the
// application, checking state and, when the provider sends it, iss.
func callback(p *page, redirectURI, state, issuer string) (string, error) {
	if !strings.HasPrefix(p.Location, redirectURI) {
		// A provider's own error page (Hydra redirects to urls.error).
		if e := p.URL.Query().Get("error"); e != "" {
			return "", failf("authorize_"+e, fmt.Errorf("%s: %s", p.URL.Path, p.URL.Query().Get("error_description")))
		}
		if p.Status >= 500 {
			return "", failf(fmt.Sprintf("http_%d", p.Status), fmt.Errorf("%s: %.200q", p.URL.Path, p.Body))
		}
		return "", failf("page", fmt.Errorf("expected a redirect to the app, got %d %s: %.300q", p.Status, p.URL.Path, p.Body))
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		return "", failf("page", err)
	}
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return "", failf("authorize_"+e, errors.New(q.Get("error_description")))
	}
	if q.Get("state") != state {
		return "", failf("state", fmt.Errorf("state %q, want %q", q.Get("state"), state))
	}
	if iss := q.Get("iss"); iss != "" && iss != issuer {
		return "", failf("iss", fmt.Errorf("iss %q, want %q", iss, issuer))
	}
	if q.Get("code") == "" {
		return "", failf("page", errors.New("no code in the redirect"))
	}
	return q.Get("code"), nil
}

// tokenResponse is a token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

// postForm makes a back-channel POST (as a relying party's server would:
// no browser cookies) and decodes the JSON answer into out. An OAuth
// error answer becomes an "oauth_<error>" failure.
func postForm(ctx context.Context, c *http.Client, endpoint string, form url.Values, clientID, secret string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	return doJSON(c, req, out)
}

// getJSON is a back-channel GET with a bearer token.
func getJSON(ctx context.Context, c *http.Client, endpoint, bearer string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return doJSON(c, req, out)
}

func doJSON(c *http.Client, req *http.Request, out any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" && resp.StatusCode < 500 {
			return failf("oauth_"+e.Error, fmt.Errorf("%s %s: %d %.200s", req.Method, req.URL.Path, resp.StatusCode, body))
		}
		return failf(fmt.Sprintf("http_%d", resp.StatusCode), fmt.Errorf("%s %s: %.200s", req.Method, req.URL.Path, body))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return failf("bad_json", fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err))
	}
	return nil
}

// classifyTransport names errors that come from the network, not from the
// provider's answers.
func classifyTransport(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return "conn_reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, os.ErrDeadlineExceeded):
		return "conn_other"
	}
	return "other"
}
