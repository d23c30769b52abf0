package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one run: a workload against one server at one concurrency.
type Result struct {
	Server      string    `json:"server"` // label, e.g. "gatehouse" or "hydra"
	Kind        string    `json:"kind"`
	Workload    string    `json:"workload"`
	About       string    `json:"about"`
	Concurrency int       `json:"concurrency"`
	WarmupS     float64   `json:"warmup_s"`
	DurationS   float64   `json:"duration_s"` // the measurement window actually used
	StartedAt   time.Time `json:"started_at"`
	Load1Before float64   `json:"load1_before"`

	Ops        int                       `json:"ops"`
	OpsPerSec  float64                   `json:"ops_per_s"`
	Latency    LatencySummary            `json:"latency"`
	PerOp      map[string]LatencySummary `json:"per_op,omitempty"`
	ErrorCount int                       `json:"error_count"`
	Errors     map[string]int            `json:"errors"`
	FirstError string                    `json:"first_error,omitempty"`
	// Stalled counts operations still running at the end that had run for
	// the whole measurement window: a hung server shows here even when
	// nothing timed out yet.
	Stalled     int     `json:"stalled"`
	SetupErrors int     `json:"setup_errors"`
	Starved     int     `json:"starved,omitempty"`
	HTTPPerOp   float64 `json:"http_requests_per_op"`

	ServerRSS        *RSSStats `json:"server_rss,omitempty"`
	ServerCPUSeconds float64   `json:"server_cpu_s"`
	ServerCPUMsPerOp float64   `json:"server_cpu_ms_per_op"`
	AuxRSS           *RSSStats `json:"aux_rss,omitempty"`
	AuxCPUSeconds    float64   `json:"aux_cpu_s,omitempty"`
	BenchCPUSeconds  float64   `json:"bench_cpu_s"`
	// The whole machine over the window: busy and idle CPU seconds (all
	// cores). Busy minus server, helper and generator is everything else:
	// PostgreSQL, Redis, and whatever else runs on the machine.
	MachineBusySeconds float64 `json:"machine_busy_s"`
	MachineIdleSeconds float64 `json:"machine_idle_s"`
}

type runConfig struct {
	statePath   string
	label       string
	workload    string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	timeout     time.Duration
	maxOps      int
	pid, auxPID int
	out         string
	mix         string
	quiet       bool
}

func runCmd(args []string, stdout io.Writer) error {
	var c runConfig
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&c.statePath, "state", "", "state file written by provision (required)")
	fs.StringVar(&c.label, "label", "", "server label in the results (default: the provider kind)")
	fs.StringVar(&c.workload, "workload", "code", "workload: cc, code, login, refresh, introspect, userinfo or mixed")
	fs.IntVar(&c.concurrency, "c", 4, "concurrency: virtual users, each with one operation in flight")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "measurement duration (at most 10m)")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "warm-up before measuring (operations ending in it are not counted)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "timeout of one HTTP request")
	fs.IntVar(&c.maxOps, "max-ops", 0, "stop after this many counted operations (0: run for the duration)")
	fs.IntVar(&c.pid, "pid", 0, "server process ID, for its RSS and CPU time from /proc")
	fs.IntVar(&c.auxPID, "aux-pid", 0, "a helper process to report too (Hydra's login/consent app)")
	fs.StringVar(&c.out, "out", "", "append the result as one JSON line to this file")
	fs.StringVar(&c.mix, "mix", "", "mixed workload weights, e.g. code=30,refresh=20,userinfo=20,introspect=20,cc=10")
	fs.BoolVar(&c.quiet, "q", false, "print only the one-line summary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case c.statePath == "":
		return errors.New("run: -state is required")
	case workloads[c.workload] == nil:
		return fmt.Errorf("run: unknown workload %q (have %v)", c.workload, sortedKeys(workloads))
	case c.concurrency < 1 || c.concurrency > 4096:
		return errors.New("run: -c must be between 1 and 4096")
	case c.duration <= 0 || c.duration > 10*time.Minute || c.warmup < 0 || c.warmup > 5*time.Minute:
		return errors.New("run: -d must be in (0, 10m] and -warmup in [0, 5m]")
	}
	if c.mix != "" {
		m, err := parseMix(c.mix)
		if err != nil {
			return err
		}
		activeMix = m
	}
	res, err := run(context.Background(), c)
	if err != nil {
		return err
	}
	printResult(stdout, res, c.quiet)
	if c.out != "" {
		f, err := os.OpenFile(c.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		b, _ := json.Marshal(res)
		if _, err := f.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

func run(ctx context.Context, c runConfig) (*Result, error) {
	st, err := loadState(c.statePath)
	if err != nil {
		return nil, err
	}
	wl := workloads[c.workload]
	res := &Result{Server: c.label, Kind: st.Kind, Workload: c.workload, About: wl.about, Concurrency: c.concurrency,
		WarmupS: c.warmup.Seconds(), StartedAt: time.Now().UTC(), Load1Before: loadAvg1()}
	if res.Server == "" {
		res.Server = st.Kind
	}
	if c.workload == "mixed" {
		res.About = "a blend: " + mixDescription(activeMix)
	}

	var before, auxBefore int64
	if c.pid > 0 {
		if before, err = rssKiB(c.pid); err != nil {
			return nil, fmt.Errorf("server pid %d: %w", c.pid, err)
		}
	}
	if c.auxPID > 0 {
		auxBefore, _ = rssKiB(c.auxPID)
	}
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	rss := startRSS(sctx, c.pid, 200*time.Millisecond)
	auxRSS := startRSS(sctx, c.auxPID, 200*time.Millisecond)

	rt := newTransport(c.concurrency)
	defer rt.CloseIdleConnections()
	p, err := newProvider(ctx, st, rt, c.timeout)
	if err != nil {
		return nil, err
	}
	pool := &userPool{users: st.Users, needOTP: st.Kind == kindGatehouse}
	// Start first sign-ins at a random user, so consecutive runs rarely
	// meet a user whose current TOTP step a previous run has used.
	pool.next = rand.IntN(len(st.Users))

	// Set up the virtual users: each gets its user's signed-in browser and,
	// when the workload needs them, tokens from one code flow.
	vus := make([]*vu, c.concurrency)
	var setupErrs atomic.Int64
	var firstErr atomic.Value
	noteErr := func(err error) {
		firstErr.CompareAndSwap(nil, err.Error())
	}
	var wg sync.WaitGroup
	setupCtx, cancelSetup := context.WithTimeout(ctx, 2*time.Minute)
	for i := range vus {
		u := st.Users[i%len(st.Users)]
		ct := &countingTransport{next: rt}
		v := &vu{id: i, p: p, user: u, pool: pool, ct: ct, b: newBrowser(ct, st.RedirectURI),
			back: &http.Client{Transport: ct, Timeout: c.timeout},
			rng:  rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))}
		v.b.setCookies(p.issuerURL, u.Cookies)
		vus[i] = v
		if !wl.tokens {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; attempt < 3; attempt++ {
				ctx, cancel := context.WithTimeout(setupCtx, c.timeout)
				err := v.setup(ctx)
				cancel()
				if err == nil {
					return
				}
				setupErrs.Add(1)
				noteErr(fmt.Errorf("setup: %w", err))
			}
			v.stale = true
		}()
	}
	wg.Wait()
	cancelSetup()
	res.SetupErrors = int(setupErrs.Load())

	// Run: warm-up, then the measurement window.
	start := time.Now()
	from := start.Add(c.warmup)
	to := from.Add(c.duration)
	rss.measureFrom(from)
	auxRSS.measureFrom(from)
	runCtx, cancelRun := context.WithDeadline(ctx, to)
	defer cancelRun()
	var counted atomic.Int64
	var cpuMu sync.Mutex
	var cpuFrom, auxFrom, selfFrom, busyFrom, idleFrom float64
	cpuTimer := time.AfterFunc(time.Until(from), func() {
		cpuMu.Lock()
		defer cpuMu.Unlock()
		cpuFrom, _ = cpuSeconds(c.pid)
		auxFrom, _ = cpuSeconds(c.auxPID)
		selfFrom = selfCPUSeconds()
		busyFrom, idleFrom, _ = machineCPU()
	})
	recs := make([]*recorder, len(vus))
	inflight := make([]atomic.Int64, len(vus)) // start time (UnixNano) of the running op, 0 when idle
	var lastEnd atomic.Int64
	for i, v := range vus {
		rec := newRecorder(from, to)
		recs[i] = rec
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				if c.maxOps > 0 && counted.Load() >= int64(c.maxOps) {
					return
				}
				if wl.tokens && v.stale {
					ctx, cancel := context.WithTimeout(runCtx, c.timeout)
					err := v.setup(ctx)
					cancel()
					if err != nil {
						if rec.record("setup", time.Now(), time.Now(), 0, failf("resetup", err)) {
							noteErr(err)
						}
						continue
					}
				}
				ctx, cancel := context.WithTimeout(runCtx, c.timeout)
				reqs := v.ct.n.Load()
				t0 := time.Now()
				inflight[i].Store(t0.UnixNano())
				name, err := wl.op(ctx, v)
				t1 := time.Now()
				inflight[i].Store(0)
				cancel()
				if errors.Is(err, errStarved) {
					v.starved++
					select {
					case <-runCtx.Done():
					case <-time.After(250 * time.Millisecond):
					}
					continue
				}
				if runCtx.Err() != nil && err != nil {
					return // cut off by the end of the run: not the server's fault
				}
				if rec.record(name, t0, t1, v.ct.n.Load()-reqs, err) {
					if err == nil {
						counted.Add(1)
						lastEnd.Store(t1.UnixNano())
					} else {
						noteErr(err)
					}
				}
			}
		}()
	}
	// Operations that hang past the end are cancelled; those that had been
	// running for the whole measurement window count as stalled (a slow
	// workload's operations, seconds long, are not).
	stalledAfter := max(c.duration, 5*time.Second)
	stalled := 0
	select {
	case <-runCtx.Done():
	case <-waitChan(&wg):
	}
	end := time.Now()
	for i := range inflight {
		if t := inflight[i].Load(); t != 0 && end.Sub(time.Unix(0, t)) > stalledAfter {
			stalled++
		}
	}
	cpuTo, _ := cpuSeconds(c.pid)
	auxTo, _ := cpuSeconds(c.auxPID)
	selfTo := selfCPUSeconds()
	busyTo, idleTo, _ := machineCPU()
	cancelRun()
	wg.Wait()
	cpuTimer.Stop()
	cpuMu.Lock()
	defer cpuMu.Unlock()

	m := merge(recs)
	window := c.duration
	if c.maxOps > 0 && end.Before(to) {
		// Stopped by count: the window ends with the last counted operation.
		window = max(time.Unix(0, lastEnd.Load()).Sub(from), time.Millisecond)
	}
	if end.Before(from) { // the whole run ended before the warm-up did
		window = time.Millisecond
	}
	res.DurationS = window.Seconds()
	res.Ops = len(m.latencies)
	res.OpsPerSec = float64(res.Ops) / window.Seconds()
	if res.Ops > 0 {
		res.HTTPPerOp = float64(m.requests) / float64(res.Ops)
	}
	res.Latency = summarize(m.latencies)
	if c.workload == "mixed" {
		res.PerOp = map[string]LatencySummary{}
		for k, v := range m.byOp {
			res.PerOp[k] = summarize(v)
		}
	}
	res.Errors = m.errors
	res.ErrorCount = m.errorCount() + stalled
	if stalled > 0 {
		res.Errors["stalled"] += stalled
	}
	res.Stalled = stalled
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	for _, v := range vus {
		res.Starved += v.starved
	}
	stopSampling()
	if c.pid > 0 {
		mx, mean := rss.stop()
		after, _ := rssKiB(c.pid)
		res.ServerRSS = &RSSStats{PID: c.pid, Before: mib(before), Mean: mib(mean), Max: mib(mx), After: mib(after)}
		if cpuFrom > 0 {
			res.ServerCPUSeconds = cpuTo - cpuFrom
			if res.Ops > 0 {
				res.ServerCPUMsPerOp = 1000 * res.ServerCPUSeconds / float64(res.Ops)
			}
		}
	}
	if c.auxPID > 0 {
		mx, mean := auxRSS.stop()
		after, _ := rssKiB(c.auxPID)
		res.AuxRSS = &RSSStats{PID: c.auxPID, Before: mib(auxBefore), Mean: mib(mean), Max: mib(mx), After: mib(after)}
		if auxFrom > 0 {
			res.AuxCPUSeconds = auxTo - auxFrom
		}
	}
	if selfFrom > 0 {
		res.BenchCPUSeconds = selfTo - selfFrom
	}
	if busyFrom > 0 {
		res.MachineBusySeconds, res.MachineIdleSeconds = busyTo-busyFrom, idleTo-idleFrom
	}

	// Keep the TOTP steps first sign-ins used, for the next run.
	if pool.needOTP && (c.workload == "login") {
		if err := st.save(c.statePath); err != nil {
			return nil, fmt.Errorf("saving the state: %w", err)
		}
	}
	return res, nil
}

func waitChan(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

func printResult(w io.Writer, r *Result, quiet bool) {
	rss := ""
	if r.ServerRSS != nil {
		rss = fmt.Sprintf("  rss %.0f→%.0f MiB (max %.0f)  cpu %.2f ms/op", r.ServerRSS.Before, r.ServerRSS.Mean, r.ServerRSS.Max, r.ServerCPUMsPerOp)
	}
	fmt.Fprintf(w, "%-9s %-10s c=%-3d %8.1f ops/s  p50 %7.1f  p90 %7.1f  p99 %7.1f  max %7.1f ms  errors %d%s\n",
		r.Server, r.Workload, r.Concurrency, r.OpsPerSec, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, r.ErrorCount, rss)
	if quiet {
		return
	}
	for _, k := range sortedKeys(r.Errors) {
		fmt.Fprintf(w, "  error %-28s %d\n", k, r.Errors[k])
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error: %.300s\n", r.FirstError)
	}
	if r.SetupErrors > 0 {
		fmt.Fprintf(w, "  setup errors: %d\n", r.SetupErrors)
	}
	if r.Starved > 0 {
		fmt.Fprintf(w, "  first sign-ins that waited for a TOTP step: %d\n", r.Starved)
	}
	for _, k := range sortedKeys(r.PerOp) {
		s := r.PerOp[k]
		fmt.Fprintf(w, "  %-10s %6d ops  p50 %7.1f  p99 %7.1f ms\n", k, s.Count, s.P50, s.P99)
	}
}
