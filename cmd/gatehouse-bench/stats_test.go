package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms: the p-th percentile is p ms exactly.
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	sum := summarize(s)
	if sum.Count != 100 || sum.P50 != 50 || sum.P90 != 90 || sum.P99 != 99 || sum.Max != 100 || sum.Mean != 50.5 {
		t.Fatalf("1..100: %+v", sum)
	}
	for _, tc := range []struct {
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7}, 1, 7},
		{[]time.Duration{7}, 99, 7},
		{[]time.Duration{1, 2}, 50, 1},     // rank ceil(1.0) = 1
		{[]time.Duration{1, 2}, 50.1, 2},   // rank ceil(1.002) = 2
		{[]time.Duration{1, 2, 3}, 99, 3},  // rank ceil(2.97) = 3
		{[]time.Duration{1, 2, 3}, 100, 3}, // the maximum
		{[]time.Duration{1, 2, 3}, 0, 1},   // clamped to the first rank
	} {
		if got := percentile(tc.samples, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.samples, tc.p, got, tc.want)
		}
	}
}

// TestPercentileAgainstCount checks the defining property on random data:
// at least p% of samples are <= the percentile, and fewer than p% are
// below it.
func TestPercentileAgainstCount(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 300; n += 7 {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(r.IntN(50)) // many ties
		}
		summarize(s) // sorts
		for _, p := range []float64{50, 90, 99} {
			v := percentile(s, p)
			le, lt := 0, 0
			for _, d := range s {
				if d <= v {
					le++
				}
				if d < v {
					lt++
				}
			}
			if float64(le) < p/100*float64(n) || float64(lt) >= p/100*float64(n) {
				t.Fatalf("n=%d p=%v: value %v has %d <= and %d <", n, p, v, le, lt)
			}
		}
	}
}

func TestRecorderWindowAndMerge(t *testing.T) {
	t0 := time.Unix(1000, 0)
	from, to := t0.Add(3*time.Second), t0.Add(13*time.Second)
	a, b := newRecorder(from, to), newRecorder(from, to)
	if a.record("code", t0, t0.Add(time.Second), 2, nil) {
		t.Fatal("an op ending in the warm-up was counted")
	}
	if !a.record("code", t0.Add(2*time.Second), from.Add(time.Second), 2, nil) {
		t.Fatal("an op that started in the warm-up and ended in the window was not counted")
	}
	if a.record("code", to.Add(-time.Second), to, 2, nil) {
		t.Fatal("an op ending at the end of the window was counted")
	}
	b.record("cc", from, from.Add(5*time.Millisecond), 1, nil)
	b.record("cc", from, from.Add(time.Millisecond), 1, failf("http_503", errors.New("busy")))
	b.record("cc", from, from.Add(time.Millisecond), 1, fmt.Errorf("post: %w", failf("oauth_invalid_client", nil)))
	b.record("cc", from, from.Add(time.Millisecond), 1, errors.New("dial tcp: connection refused"))
	m := merge([]*recorder{a, b, nil})
	if len(m.latencies) != 2 || m.requests != 3 || len(m.byOp["code"]) != 1 || len(m.byOp["cc"]) != 1 {
		t.Fatalf("merged: %d latencies, %d requests, by op %v", len(m.latencies), m.requests, m.byOp)
	}
	if m.errorCount() != 3 || m.errors["http_503"] != 1 || m.errors["oauth_invalid_client"] != 1 || m.errors["other"] != 1 {
		t.Fatalf("errors: %v", m.errors)
	}
}

func TestParseStatCPU(t *testing.T) {
	// The command name may contain spaces and parentheses.
	line := "4242 (my (weird) cmd) S 1 2 3 4 5 6 7 8 9 10 250 130 0 0 20 0 12 0 100 200 300"
	got, err := parseStatCPU(line)
	if err != nil || got != 3.8 {
		t.Fatalf("parseStatCPU = %v, %v; want 3.8", got, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestParseProcStat(t *testing.T) {
	busy, idle, err := parseProcStat("cpu  100 20 30 400 50 6 4 10 0 0")
	if err != nil || busy != 1.7 || idle != 4.5 {
		t.Fatalf("parseProcStat = %v, %v, %v; want 1.7, 4.5", busy, idle, err)
	}
	if _, _, err := parseProcStat("cpu0 1 2 3"); err == nil {
		t.Fatal("a short line parsed")
	}
}

func TestUserPoolTOTPSteps(t *testing.T) {
	now := time.Unix(30*1000+5, 0) // step 1000
	users := []*User{{Username: "a"}, {Username: "b", LastStep: 1001}}
	p := &userPool{users: users, needOTP: true}
	var got []string
	for {
		u, step, ok := p.acquire(now)
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%s@%d", u.Username, step))
		if len(got) > 10 {
			t.Fatal("pool never ran dry")
		}
	}
	// a may use steps 1000 and 1001; b has used 1001 already.
	if strings.Join(got, " ") != "a@1000 a@1001" {
		t.Fatalf("acquired %v", got)
	}
	// The next step frees both.
	if u, step, ok := p.acquire(now.Add(30 * time.Second)); !ok || step != 1002 {
		t.Fatalf("next step: %v %d %v", u, step, ok)
	}
}

func TestParseMix(t *testing.T) {
	m, err := parseMix("code=3, cc=1")
	if err != nil || len(m) != 2 || m[0] != (mixWeight{"code", 3}) || m[1] != (mixWeight{"cc", 1}) {
		t.Fatalf("parseMix: %v %v", m, err)
	}
	for _, bad := range []string{"", "code", "code=0", "mixed=1", "nope=2"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q) accepted", bad)
		}
	}
}

func TestTOTPCodeRFC6238(t *testing.T) {
	// RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); 6 digits: 287082.
	secret := "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32 of "12345678901234567890"
	code, err := totpCode(secret, totpStep(time.Unix(59, 0)))
	if err != nil || code != "287082" {
		t.Fatalf("totpCode = %q, %v", code, err)
	}
}
