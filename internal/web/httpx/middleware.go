package httpx

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/clientip"
	"github.com/gatehouse/gatehouse/internal/metrics"
	"github.com/gatehouse/gatehouse/internal/oauth"
	"github.com/gatehouse/gatehouse/internal/secrets"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	retryKey
)

// WithRetryURL makes u what an outage page's "Try again" loads for r: a
// POSTed authorization request is repeated whole, as a GET.
func WithRetryURL(r *http.Request, u string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), retryKey, u))
}

// RequestID is the ID the request was logged under.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Instrument adds a request ID, security headers, a log line per request
// and the request metrics. mux.Handler finds the route pattern, so metrics
// are labelled by route, not by raw path.
func Instrument(mux *http.ServeMux, m *metrics.Metrics, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := hex.EncodeToString(secrets.RandomToken(8))
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", contentSecurityPolicy())
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		_, route := mux.Handler(r)
		if route == "" {
			route = "unmatched"
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)
		m.Requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		m.Latency.WithLabelValues(route).Observe(elapsed.Seconds())
		logger.Debug("request", "method", r.Method, "route", route, "status", rec.status, "duration", elapsed, "request_id", id)
	})
}

// contentSecurityPolicy is the policy of Gatehouse's pages: no scripts, and
// forms post only to Gatehouse itself and to the redirect URIs named in
// formTargets. Chrome and Safari check form-action against the redirects a
// submission produces too, so a sign-in page whose form ends in a redirect
// to the application must name the application's redirect URI.
func contentSecurityPolicy(formTargets ...string) string {
	formAction := "'self'"
	for _, target := range formTargets {
		if u, err := url.Parse(target); err == nil && u.Scheme != "" {
			formAction += " " + oauth.Origin(u)
		}
	}
	return "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action " + formAction +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// AllowFormTarget lets the page's forms end at redirectURI (see
// contentSecurityPolicy).
func AllowFormTarget(w http.ResponseWriter, redirectURI string) {
	if redirectURI != "" {
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy(redirectURI))
	}
}

// HSTS tells browsers to reach Gatehouse over HTTPS only; app adds it when
// the issuer is https.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		next.ServeHTTP(w, r)
	})
}

// ClientIP is the client's address, as clientip.Middleware resolved it.
func ClientIP(r *http.Request) string { return clientip.From(r) }

// Deadline bounds each request's context to d, except under exempt: a
// request that waits longer for the database, Redis or a password check
// fails with context.DeadlineExceeded, which the handlers answer 503 (busy,
// retry), rather than hanging until the connection is cut.
func Deadline(next http.Handler, d time.Duration, exempt string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, exempt) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
