package app

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/flow"
	"github.com/gatehouse/gatehouse/internal/lockout"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/mfa"
	"github.com/gatehouse/gatehouse/internal/questions"
	"github.com/gatehouse/gatehouse/internal/secrets"
	"github.com/gatehouse/gatehouse/internal/store/redisstore"
	"github.com/gatehouse/gatehouse/internal/web/account"
	"github.com/gatehouse/gatehouse/internal/web/challenge"
	"github.com/gatehouse/gatehouse/internal/web/consent"
	"github.com/gatehouse/gatehouse/internal/web/enroll"
	"github.com/gatehouse/gatehouse/internal/web/httpx"
	"github.com/gatehouse/gatehouse/internal/web/logout"
	"github.com/gatehouse/gatehouse/internal/web/signin"
	"github.com/gatehouse/gatehouse/internal/web/sspr"
	"github.com/gatehouse/gatehouse/internal/web/steps"
	"github.com/gatehouse/gatehouse/internal/web/websession"
)

// pageServices are the domain services behind the browser pages.
type pageServices struct {
	provider  fosite.OAuth2Provider
	kv        *redisstore.Store
	mfa       *mfa.Service
	questions *questions.Service
	locks     *lockout.Lockout
	metrics   *metrics.Metrics
	audit     *audit.Recorder
	logger    *slog.Logger
}

// mountPages builds every browser flow over one base and registers its
// routes on mux. The base answers unknown paths and panics.
func (a *App) mountPages(mux *http.ServeMux, s pageServices) (*httpx.Base, error) {
	cfg := a.Config
	base, err := httpx.NewBase(httpx.Site{
		District: cfg.District.Name, Domain: cfg.District.Domain, SecureCookies: cfg.SecureCookies(),
		HelpDeskURL: cfg.District.HelpDeskURL, TroubleshootingURL: cfg.District.TroubleshootingURL,
	}, secrets.Derive(a.masterKey, "csrf"), s.logger)
	if err != nil {
		return nil, err
	}
	sessions := websession.New(websession.Options{
		Cookie: cfg.Session.CookieName, Secure: cfg.SecureCookies(),
		Lifetime: cfg.Session.Lifetime.Duration, Idle: cfg.Session.IdleTimeout.Duration,
	}, s.kv, a.Users, a.DB)
	devices := websession.NewDevices(secrets.Derive(a.masterKey, "remember-device"), cfg.SecureCookies(), s.mfa)
	run := steps.New(base, steps.Deps{
		Issuer: cfg.Issuer, Provider: s.provider, Flows: flow.NewStore(s.kv, cfg.Login.FlowLifetime.Duration),
		Sessions: sessions, Users: a.Users, Clients: a.DB, Policy: a.Policy, MFA: s.mfa, Audit: s.audit,
	})
	minPassword := cfg.Password.MinLength
	var errs []error
	mount := func(flow interface{ Mount(*http.ServeMux) }, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		flow.Mount(mux)
	}
	mount(signin.New(run, signin.Deps{Users: a.Users, Lockout: s.locks, Devices: devices, Metrics: s.metrics, MinPasswordLength: minPassword}))
	mount(enroll.New(run, s.mfa))
	mount(challenge.New(run, s.mfa, devices))
	mount(consent.New(run))
	mount(account.New(run, account.Deps{Users: a.Users, MFA: s.mfa, Questions: s.questions,
		Freshness: cfg.Account.Freshness.Duration, MinPasswordLength: minPassword}))
	mount(sspr.New(base, sspr.Deps{KV: s.kv, Users: a.Users, MFA: s.mfa, Questions: s.questions, Policy: a.Policy,
		Lockout: s.locks, Sessions: sessions, Audit: s.audit, MinPasswordLength: minPassword}))
	mount(logout.New(base, logout.Deps{Issuer: cfg.Issuer, Keys: a.Keys, Clients: a.DB, Sessions: sessions, Audit: s.audit}))
	return base, errors.Join(errs...)
}
