package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/admin"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/pkg/assurance"
	"github.com/gatehouse/gatehouse/pkg/rp"
)

// A sign-in in progress (an rp.Login) is kept server-side, since any
// replica may receive the callback, under a hash of its state.
func loginKey(state string) string { return "admin-login:" + digest(state) }

// relyingParty discovers the issuer on first use and keeps the result.
func (c *Console) relyingParty(ctx context.Context) (*rp.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rp != nil {
		return c.rp, nil
	}
	client, err := rp.New(ctx, rp.Config{Issuer: c.opt.Issuer, ClientID: c.opt.ClientID, ClientSecret: c.opt.ClientSecret,
		RedirectURL: c.opt.Issuer + Prefix + "/callback", Scopes: []string{"profile"}, HTTPClient: c.client,
		LoginLifetime: loginLifetime})
	if err != nil {
		return nil, err
	}
	c.rp = client
	return client, nil
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s, token, err := c.current(r)
	if err != nil {
		c.unavailable(w, r, err)
		return
	}
	if s == nil {
		c.render(w, http.StatusOK, "landing", view{Title: "Admin console", District: c.opt.District})
		return
	}
	q, ok := c.signedIn(w, r, s, token)
	if !ok {
		return
	}
	c.render(w, http.StatusOK, "dashboard", c.view(q, "Admin console", nil))
}

// safeReturn keeps the post-sign-in redirect inside the console.
func safeReturn(p string) string {
	if !strings.HasPrefix(p, Prefix+"/") || strings.Contains(p, "//") || strings.ContainsAny(p, `\?#`) {
		return Prefix + "/"
	}
	return p
}

// login starts the code flow with PKCE, state and nonce, asking for MFA
// (the client's registration requires it too, so the token endpoint refuses
// a code from any weaker sign-in) no older than the console's idle timeout.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	client, err := c.relyingParty(r.Context())
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "The console couldn't reach Gatehouse's sign-in. Try again in a moment.", err)
		return
	}
	authURL, l := client.AuthCodeURL(rp.LoginOptions{ACR: assurance.MFA, MaxAge: sessionIdle,
		ReturnTo: safeReturn(r.URL.Query().Get("return"))})
	if err := c.putJSON(r.Context(), loginKey(l.State), l, loginLifetime); err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't start your sign-in. Try again in a moment.", err)
		return
	}
	// The cookie binds the state to this browser: a callback carrying a
	// state started elsewhere (login CSRF) is refused.
	c.setCookie(w, loginCookie, l.State, loginLifetime)
	http.Redirect(w, r, authURL, http.StatusFound)
}

func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ck, err := r.Cookie(loginCookie)
	c.setCookie(w, loginCookie, "", -1)
	if err != nil || ck.Value == "" {
		c.fail(w, r, http.StatusBadRequest, "Sign-in not valid", "This sign-in was not started in this browser, or it took too long. Start again.", nil)
		return
	}
	var l rp.Login
	raw, err := c.kv.Take(ctx, loginKey(ck.Value))
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in has expired or was already used. Start again.", nil)
		return
	case err != nil:
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't complete your sign-in. Try again in a moment.", err)
		return
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		c.fail(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in has expired or was already used. Start again.", nil)
		return
	}
	client, err := c.relyingParty(ctx)
	if err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "The console couldn't reach Gatehouse's sign-in. Try again in a moment.", err)
		return
	}
	res, err := client.Callback(ctx, r.URL.Query(), l)
	var (
		provider *rp.ResponseError
		issuer   *rp.IssuerError
		weak     *rp.AssuranceError
	)
	switch {
	case errors.Is(err, rp.ErrStateMismatch):
		c.fail(w, r, http.StatusBadRequest, "Sign-in not valid", "This sign-in was not started in this browser, or it took too long. Start again.", nil)
		return
	case errors.Is(err, rp.ErrLoginExpired):
		c.fail(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in has expired or was already used. Start again.", nil)
		return
	case errors.As(err, &issuer):
		c.fail(w, r, http.StatusBadRequest, "Sign-in not valid", "The sign-in response came from another issuer.", nil)
		return
	case errors.As(err, &provider):
		c.fail(w, r, http.StatusForbidden, "Sign-in didn't complete", "Gatehouse did not sign you in ("+provider.Code+"). Start again.", nil)
		return
	case errors.As(err, &weak):
		c.fail(w, r, http.StatusForbidden, "Stronger sign-in required", "The admin console needs a sign-in with a second factor (multi-factor authentication). Sign out of Gatehouse and sign in again.", nil)
		return
	case err != nil:
		c.fail(w, r, http.StatusBadGateway, "Sign-in failed", "The console couldn't complete your sign-in. Start again.", err)
		return
	}
	_, _, err = c.svc.ConsoleActor(ctx, res.Subject, clientIP(r))
	switch {
	case errors.Is(err, admin.ErrForbidden) || errors.Is(err, store.ErrNotFound):
		c.noAccess(w, r)
		return
	case err != nil:
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't load your account. Try again in a moment.", err)
		return
	}
	if err := c.startSession(w, r, session{UserID: res.Subject, IDToken: res.RawIDToken}); err != nil {
		c.fail(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "We couldn't start your console session. Try again in a moment.", err)
		return
	}
	http.Redirect(w, r, res.ReturnTo, http.StatusSeeOther)
}

// logout ends the console session and, with the ID token as a hint, the
// Gatehouse sign-in behind it, returning to the console's front page.
func (c *Console) logout(q *request) {
	s, _, _ := c.current(q.r)
	c.endSession(q.w, q.r)
	client, err := c.relyingParty(q.r.Context())
	if err != nil || s == nil {
		http.Redirect(q.w, q.r, Prefix+"/", http.StatusSeeOther)
		return
	}
	end, ok := client.EndSessionURL(s.IDToken, c.opt.Issuer+Prefix+"/")
	if !ok {
		http.Redirect(q.w, q.r, Prefix+"/", http.StatusSeeOther)
		return
	}
	http.Redirect(q.w, q.r, end, http.StatusSeeOther)
}
