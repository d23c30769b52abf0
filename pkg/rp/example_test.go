package rp_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/pkg/assurance"
	"github.com/gatehouse/gatehouse/pkg/rp"
)

// A gradebook signs teachers in through Gatehouse, with a second factor no
// older than an hour, keeping each sign-in in progress in a sealed cookie.
func Example() {
	ctx := context.Background()
	client, err := rp.New(ctx, rp.Config{
		Issuer:       "https://login.district.example",
		ClientID:     "gradebook",
		ClientSecret: "the secret Gatehouse issued",
		RedirectURL:  "https://gradebook.district.example/callback",
		Scopes:       []string{"profile", "email"},
	})
	if err != nil {
		log.Fatal(err)
	}
	sealKey := make([]byte, 32) // the app's own secret, the same on every replica

	http.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		authURL, login := client.AuthCodeURL(rp.LoginOptions{ACR: assurance.MFA, MaxAge: time.Hour, ReturnTo: "/grades"})
		sealed, err := rp.SealLogin(sealKey, login)
		if err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "login", Value: sealed, Path: "/callback", MaxAge: 600,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, authURL, http.StatusFound)
	})
	http.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "login", Path: "/callback", MaxAge: -1}) // used once
		c, err := r.Cookie("login")
		if err != nil {
			http.Error(w, "start again", http.StatusBadRequest)
			return
		}
		login, err := rp.OpenLogin(sealKey, c.Value)
		if err != nil {
			http.Error(w, "start again", http.StatusBadRequest)
			return
		}
		res, err := client.Callback(r.Context(), r.URL.Query(), login)
		var weak *rp.AssuranceError
		switch {
		case errors.As(err, &weak):
			http.Error(w, "this page needs a sign-in with a second factor", http.StatusForbidden)
			return
		case errors.Is(err, rp.ErrUnavailable):
			w.Header().Set("Retry-After", "5")
			http.Error(w, "sign-in is unavailable; try again in a moment", http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, "sign-in failed; start again", http.StatusBadRequest)
			return
		}
		log.Printf("%s signed in at %s (%v) at %s", res.Subject, res.ACR, res.AMR, res.AuthTime)
		// Start the app's own session for res.Subject here.
		http.Redirect(w, r, res.ReturnTo, http.StatusSeeOther)
	})
}
