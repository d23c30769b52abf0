package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Provider kinds: how sign-in and provisioning differ. Everything else is
// read from the discovery document.
const (
	kindGatehouse = "gatehouse"
	kindHydra     = "hydra"
)

// State is what provisioning created, read by every run: one client and the
// bench users, with their authenticator secrets and signed-in sessions.
type State struct {
	Kind         string `json:"kind"`
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RedirectURI  string `json:"redirect_uri"`
	// IntrospectURL overrides the discovery document's introspection
	// endpoint (Hydra serves introspection on its admin port only, without
	// client authentication); IntrospectAuth says whether to authenticate.
	IntrospectURL  string  `json:"introspect_url,omitempty"`
	IntrospectAuth bool    `json:"introspect_auth"`
	Users          []*User `json:"users"`
	CreatedAt      time.Time
}

// User is one bench person.
type User struct {
	Username   string `json:"username"`
	Password   string `json:"password,omitempty"`
	TOTPSecret string `json:"totp_secret,omitempty"`
	// LastStep is the last TOTP time step used: each step is accepted once.
	LastStep int64 `json:"last_step,omitempty"`
	// Cookies hold the browser session provisioning signed in.
	Cookies []cookie `json:"cookies,omitempty"`
}

func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.Users) == 0 || s.ClientID == "" {
		return nil, fmt.Errorf("%s: no client or users; run provision first", path)
	}
	return &s, nil
}

// save writes the state atomically (it holds secrets: mode 0600).
func (s *State) save(path string) error {
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// TOTP as every authenticator app does it: SHA-1, 6 digits, 30 seconds.
const totpPeriod = 30

func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

func totpCode(secret string, step int64) (string, error) {
	return totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totp.ValidateOpts{
		Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// userPool hands out users for first sign-ins. A TOTP code is accepted
// once per user and step, in the current step or one either side, so a
// user can sign in with the current step's code or the next one's and then
// waits for time to move on; the pool spreads sign-ins over users so that
// never limits the rate.
type userPool struct {
	mu      sync.Mutex
	users   []*User
	next    int
	needOTP bool
}

// acquire returns a user and the TOTP step its sign-in will use; ok is
// false when every user has used the steps available now.
func (p *userPool) acquire(now time.Time) (u *User, step int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.users)
	cur := totpStep(now)
	for i := 0; i < n; i++ {
		u := p.users[(p.next+i)%n]
		if !p.needOTP {
			p.next = (p.next + i + 1) % n
			return u, 0, true
		}
		for _, s := range []int64{cur, cur + 1} {
			if s > u.LastStep {
				u.LastStep = s
				p.next = (p.next + i + 1) % n
				return u, s, true
			}
		}
	}
	return nil, 0, false
}
