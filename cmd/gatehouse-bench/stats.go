package main

import (
	"errors"
	"maps"
	"math"
	"slices"
	"time"
)

// LatencySummary is what a run reports about the latency of its operations,
// in milliseconds.
type LatencySummary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// percentile returns the nearest-rank percentile p (0 < p <= 100) of
// sorted: the smallest sample such that at least p% of the samples are less
// than or equal to it. Zero for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// summarize sorts samples in place and summarizes them.
func summarize(samples []time.Duration) LatencySummary {
	if len(samples) == 0 {
		return LatencySummary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	return LatencySummary{
		Count: len(samples),
		Mean:  ms(sum / time.Duration(len(samples))),
		P50:   ms(percentile(samples, 50)),
		P90:   ms(percentile(samples, 90)),
		P99:   ms(percentile(samples, 99)),
		Max:   ms(samples[len(samples)-1]),
	}
}

// recorder collects one virtual user's results; it is not shared, so it
// needs no lock. Operations are counted only when they end inside the
// measurement window [from, to).
type recorder struct {
	from, to  time.Time
	latencies []time.Duration
	errors    map[string]int
	requests  int64 // HTTP requests made by counted operations
	byOp      map[string][]time.Duration
}

func newRecorder(from, to time.Time) *recorder {
	return &recorder{from: from, to: to, errors: map[string]int{}, byOp: map[string][]time.Duration{}}
}

// record notes one operation that started at start and ended at end; err
// nil means success. It reports whether the operation fell in the window.
func (r *recorder) record(op string, start, end time.Time, requests int64, err error) bool {
	if end.Before(r.from) || !end.Before(r.to) {
		return false
	}
	if err != nil {
		r.errors[errorKind(err)]++
		return true
	}
	d := end.Sub(start)
	r.latencies = append(r.latencies, d)
	r.byOp[op] = append(r.byOp[op], d)
	r.requests += requests
	return true
}

// merge folds the virtual users' recorders into one.
func merge(rs []*recorder) *recorder {
	out := &recorder{errors: map[string]int{}, byOp: map[string][]time.Duration{}}
	for _, r := range rs {
		if r == nil {
			continue
		}
		out.latencies = append(out.latencies, r.latencies...)
		for k, v := range r.errors {
			out.errors[k] += v
		}
		for k, v := range r.byOp {
			out.byOp[k] = append(out.byOp[k], v...)
		}
		out.requests += r.requests
	}
	return out
}

func (r *recorder) errorCount() int {
	n := 0
	for _, v := range r.errors {
		n += v
	}
	return n
}

// opError is a failed operation with a short, stable kind for counting
// ("timeout", "http_503", "oauth_invalid_grant", "id_token", ...).
type opError struct {
	kind string
	err  error
}

func (e *opError) Error() string {
	if e.err == nil {
		return e.kind
	}
	return e.kind + ": " + e.err.Error()
}

func (e *opError) Unwrap() error { return e.err }

func failf(kind string, err error) error { return &opError{kind: kind, err: err} }

// errorKind names err for the error table.
func errorKind(err error) string {
	var oe *opError
	if errors.As(err, &oe) {
		return oe.kind
	}
	return classifyTransport(err)
}

// sortedKeys lists a map's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
