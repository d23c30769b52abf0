// Command consent is the smallest login and consent app Ory Hydra can run
// with, for benchmarks only: it accepts every login challenge (as the user
// the authorization request's login_hint names, or the session's user when
// Hydra says to skip) and every consent challenge (granting what was
// requested, remembered), through Hydra's admin API. It checks no password
// and shows no page.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type app struct {
	admin string
	c     *http.Client
}

func main() {
	listen := flag.String("listen", "127.0.0.1:4446", "address to listen on (Hydra's urls.login and urls.consent point here)")
	admin := flag.String("admin", "http://127.0.0.1:4445", "Hydra's admin API")
	flag.Parse()
	a := &app{admin: *admin, c: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /consent", a.consent)
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		// Hydra sends the browser here when it cannot go back to the app.
		q := r.URL.Query()
		http.Error(w, "hydra error: "+q.Get("error")+": "+q.Get("error_description"), http.StatusBadGateway)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("consent: listening on %s, Hydra admin %s", *listen, *admin)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// call makes one admin API request and decodes its JSON answer.
func (a *app) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.admin+path+"?"+query.Encode(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %.300s", method, path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

type redirect struct {
	To string `json:"redirect_to"`
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	q := url.Values{"login_challenge": {challenge}}
	var lr struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
		OIDC    struct {
			LoginHint string `json:"login_hint"`
		} `json:"oidc_context"`
	}
	if err := a.call(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/login", q, nil, &lr); err != nil {
		a.fail(w, err)
		return
	}
	subject := lr.Subject
	if !lr.Skip {
		subject = lr.OIDC.LoginHint
		if subject == "" {
			subject = "bench-user"
		}
	}
	var to redirect
	if err := a.call(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/login/accept", q,
		map[string]any{"subject": subject, "remember": true, "remember_for": 0}, &to); err != nil {
		a.fail(w, err)
		return
	}
	http.Redirect(w, r, to.To, http.StatusFound)
}

func (a *app) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	q := url.Values{"consent_challenge": {challenge}}
	var cr struct {
		Subject  string   `json:"subject"`
		Scope    []string `json:"requested_scope"`
		Audience []string `json:"requested_access_token_audience"`
	}
	if err := a.call(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent", q, nil, &cr); err != nil {
		a.fail(w, err)
		return
	}
	// The claims Gatehouse puts in its ID tokens, so both sign the same.
	claims := map[string]any{"name": "Bench " + cr.Subject, "preferred_username": cr.Subject + "@district.example",
		"email": cr.Subject + "@home.example", "email_verified": false}
	var to redirect
	if err := a.call(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/consent/accept", q, map[string]any{
		"grant_scope": cr.Scope, "grant_access_token_audience": cr.Audience, "remember": true, "remember_for": 0,
		"session": map[string]any{"id_token": claims, "access_token": map[string]any{}},
	}, &to); err != nil {
		a.fail(w, err)
		return
	}
	http.Redirect(w, r, to.To, http.StatusFound)
}

func (a *app) fail(w http.ResponseWriter, err error) {
	log.Printf("consent: %v", err)
	http.Error(w, "login/consent app: "+err.Error(), http.StatusBadGateway)
}
