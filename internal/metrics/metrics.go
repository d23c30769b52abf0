// Package metrics declares Gatehouse's Prometheus metrics in one registry.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the collectors every handler reports to.
type Metrics struct {
	Registry     *prometheus.Registry
	Requests     *prometheus.CounterVec
	Latency      *prometheus.HistogramVec
	TokensIssued *prometheus.CounterVec
	SignIns      *prometheus.CounterVec
}

// New registers the collectors in a fresh registry (one per server, so two
// servers in one test process do not collide).
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		TokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tokens_issued_total", Help: "Token responses by grant type.",
		}, []string{"grant_type"}),
		SignIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_signins_total", Help: "Password sign-in attempts by outcome.",
		}, []string{"outcome"}),
	}
	m.Registry.MustRegister(m.Requests, m.Latency, m.TokensIssued, m.SignIns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchAuditSpool reports the audit events waiting in memory for the
// database, and those lost because they could not wait.
func (m *Metrics) WatchAuditSpool(spooled func() int, lost func() int64) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_audit_events_spooled", Help: "Audit events waiting in memory for the database to take them.",
		}, func() float64 { return float64(spooled()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gatehouse_audit_events_lost_total", Help: "Audit events lost: the spool was full, or the server stopped before the database took them.",
		}, func() float64 { return float64(lost()) }),
	)
}
