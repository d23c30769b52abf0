// Command report turns the load generator's results (one JSON line per run)
// into the side-by-side table, a CSV, and a PNG plot of throughput and p99
// latency against concurrency for each workload; with -update it rewrites
// the generated section of BENCHMARKS.md.
//
//	report -results bench/results/RUN/results.jsonl -costs bench/results/RUN/costs.json \
//	  -png bench/results/RUN/bench.png -md bench/results/RUN/table.md -update BENCHMARKS.md
package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"log"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Result mirrors the generator's JSON line (cmd/gatehouse-bench/run.go).
type Result struct {
	Server       string         `json:"server"`
	Workload     string         `json:"workload"`
	Concurrency  int            `json:"concurrency"`
	DurationS    float64        `json:"duration_s"`
	StartedAt    time.Time      `json:"started_at"`
	Load1Before  float64        `json:"load1_before"`
	Ops          int            `json:"ops"`
	OpsPerSec    float64        `json:"ops_per_s"`
	Latency      Latency        `json:"latency"`
	ErrorCount   int            `json:"error_count"`
	Errors       map[string]int `json:"errors"`
	FirstError   string         `json:"first_error"`
	Stalled      int            `json:"stalled"`
	SetupErrors  int            `json:"setup_errors"`
	Starved      int            `json:"starved"`
	HTTPPerOp    float64        `json:"http_requests_per_op"`
	ServerRSS    *RSS           `json:"server_rss"`
	ServerCPU    float64        `json:"server_cpu_ms_per_op"`
	AuxRSS       *RSS           `json:"aux_rss"`
	AuxCPUS      float64        `json:"aux_cpu_s"`
	BenchCPUS    float64        `json:"bench_cpu_s"`
	MachineBusyS float64        `json:"machine_busy_s"`
	MachineIdleS float64        `json:"machine_idle_s"`
}

type Latency struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

type RSS struct {
	Before float64 `json:"before_mib"`
	Mean   float64 `json:"mean_mib"`
	Max    float64 `json:"max_mib"`
	After  float64 `json:"after_mib"`
}

// Cost is one calibrated primitive (gatehouse-bench calibrate).
type Cost struct {
	Name     string  `json:"name"`
	CPUMicro float64 `json:"cpu_us"`
}

var order = []string{"cc", "code", "login", "refresh", "introspect", "userinfo", "mixed"}

const ours, theirs = "gatehouse", "hydra"

func main() {
	resultsPath := flag.String("results", "", "results.jsonl from scripts/bench.sh")
	costsPath := flag.String("costs", "", "costs.json from gatehouse-bench calibrate (for the ceilings)")
	pngPath := flag.String("png", "", "write the plot here")
	mdPath := flag.String("md", "", "write the tables (markdown) here")
	csvPath := flag.String("csv", "", "write every run as CSV here")
	update := flag.String("update", "", "replace the generated section of this markdown file (BENCHMARKS.md)")
	metaPath := flag.String("meta", "", "meta.json from scripts/bench.sh: machine, versions, quiet")
	opsPath := flag.String("opcounts", "", "opcounts.jsonl from scripts/bench.sh: database and Redis operations per operation")
	expPath := flag.String("experiments", "", "experiments.jsonl from scripts/bench.sh: the token workloads with each ID token signing algorithm")
	link := flag.String("link", "", "the run's directory, relative to the -update file, for links to the plot and profiles")
	flag.Parse()
	rs, err := readResults(*resultsPath)
	if err != nil {
		log.Fatal(err)
	}
	var costs []Cost
	if *costsPath != "" {
		b, err := os.ReadFile(*costsPath)
		if err != nil {
			log.Fatal(err)
		}
		if err := json.Unmarshal(b, &costs); err != nil {
			log.Fatal(err)
		}
	}
	var md strings.Builder
	var m Meta
	if *metaPath != "" {
		b, err := os.ReadFile(*metaPath)
		if err != nil {
			log.Fatal(err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			log.Fatal(err)
		}
		md.WriteString(metaSection(m, costs, *link))
	}
	md.WriteString(tables(rs, costs, m.alg()))
	if *opsPath != "" {
		s, err := opcountSection(*opsPath)
		if err != nil {
			log.Fatal(err)
		}
		md.WriteString(s)
	}
	if *expPath != "" {
		es, err := readResults(*expPath)
		if err != nil {
			log.Fatal(err)
		}
		md.WriteString(experimentsSection(es, rs))
	}
	if len(costs) > 0 {
		md.WriteString(costSection(costs))
	}
	if *mdPath != "" {
		if err := os.WriteFile(*mdPath, []byte(md.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if *csvPath != "" {
		if err := writeCSV(*csvPath, rs); err != nil {
			log.Fatal(err)
		}
	}
	if *pngPath != "" {
		if err := plotPNG(*pngPath, rs); err != nil {
			log.Fatal(err)
		}
	}
	if *update != "" {
		if err := updateSection(*update, md.String()); err != nil {
			log.Fatal(err)
		}
	}
	if *mdPath == "" && *update == "" {
		fmt.Print(md.String())
	}
}

func readResults(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rs = append(rs, r)
	}
	return rs, sc.Err()
}

// index finds the run of server/workload/concurrency (the last one wins).
type key struct {
	server, workload string
	c                int
}

func indexResults(rs []Result) (map[key]Result, map[string][]int) {
	idx := map[key]Result{}
	levels := map[string][]int{}
	for _, r := range rs {
		idx[key{r.Server, r.Workload, r.Concurrency}] = r
		if !slices.Contains(levels[r.Workload], r.Concurrency) {
			levels[r.Workload] = append(levels[r.Workload], r.Concurrency)
		}
	}
	for _, l := range levels {
		slices.Sort(l)
	}
	return idx, levels
}

func workloadsIn(levels map[string][]int) []string {
	var ws []string
	for _, w := range order {
		if _, ok := levels[w]; ok {
			ws = append(ws, w)
		}
	}
	for w := range levels {
		if !slices.Contains(ws, w) {
			ws = append(ws, w)
		}
	}
	return ws
}

// goals are the issue's: throughput ratios against Hydra.
var goals = map[string]float64{"cc": 10, "code": 10, "refresh": 10, "introspect": 3}

func fmtRate(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func fmtMs(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func errs(r Result, ok bool) string {
	if !ok {
		return "–"
	}
	if r.ErrorCount == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(mapsKeys(r.Errors)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.Errors[k]))
	}
	return fmt.Sprintf("**%d** (%s)", r.ErrorCount, strings.Join(parts, ", "))
}

func mapsKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func ratio(a, b float64) string {
	if b <= 0 {
		if a > 0 {
			return "∞"
		}
		return "–"
	}
	return fmt.Sprintf("%.1f×", a/b)
}

// best is the run with the highest throughput (without errors, if any has none).
func best(idx map[key]Result, server, w string, levels []int) (Result, bool) {
	var out Result
	found := false
	for _, c := range levels {
		r, ok := idx[key{server, w, c}]
		if !ok {
			continue
		}
		if !found || r.OpsPerSec > out.OpsPerSec {
			out, found = r, true
		}
	}
	return out, found
}

func tables(rs []Result, costs []Cost, alg string) string {
	idx, levels := indexResults(rs)
	var b strings.Builder
	ws := workloadsIn(levels)
	ceil := ceilings(costs, alg)

	fmt.Fprintf(&b, "### Summary: peak throughput, and p99 at 16 connections\n\n")
	fmt.Fprintf(&b, "Ratio = Gatehouse ÷ Hydra. \"Peak\" is the best of the concurrency levels run; the ceiling is the estimate in [the ceiling](#how-far-from-the-ceiling).\n\n")
	fmt.Fprintf(&b, "| workload | Gatehouse peak ops/s (at c) | Hydra peak ops/s (at c) | peak ratio | goal | p99 ms at c=16 Gatehouse / Hydra | errors (all levels) Gatehouse / Hydra | Gatehouse share of ceiling |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|\n")
	for _, w := range ws {
		g, gok := best(idx, ours, w, levels[w])
		h, hok := best(idx, theirs, w, levels[w])
		goal := "ahead"
		if v, ok := goals[w]; ok {
			goal = fmt.Sprintf("≥ %.0f×", v)
		}
		if w == "login" {
			goal = "not comparable¹"
		}
		met := ""
		if gok && hok && h.OpsPerSec > 0 && w != "login" {
			want := goals[w]
			if want == 0 {
				want = 1
			}
			if g.OpsPerSec/h.OpsPerSec >= want {
				met = " ✓"
			} else {
				met = " ✗"
			}
		}
		p99 := "–"
		g16, ok1 := idx[key{ours, w, 16}]
		h16, ok2 := idx[key{theirs, w, 16}]
		if ok1 && ok2 {
			p99 = fmt.Sprintf("%s / %s", fmtMs(g16.Latency.P99), fmtMs(h16.Latency.P99))
		}
		ge, he := 0, 0
		for _, c := range levels[w] {
			ge += idx[key{ours, w, c}].ErrorCount
			he += idx[key{theirs, w, c}].ErrorCount
		}
		share := "–"
		if cl, ok := ceil[w]; ok && gok {
			share = fmt.Sprintf("%.0f%% of ≈%s/s", 100*g.OpsPerSec/cl, fmtRate(cl))
		}
		fmt.Fprintf(&b, "| %s | %s (%d) | %s (%d) | %s%s | %s | %s | %d / %d | %s |\n", w,
			fmtRate(g.OpsPerSec), g.Concurrency, fmtRate(h.OpsPerSec), h.Concurrency, ratio(g.OpsPerSec, h.OpsPerSec), met, goal, p99, ge, he, share)
	}

	if _, ok := levels["login"]; ok {
		fmt.Fprintf(&b, "\n¹ A Gatehouse first sign-in verifies an argon2id password hash and a TOTP code; Hydra's auto-accept login app checks nothing, so its `login` is a code flow without a session.\n")
	}
	fmt.Fprintf(&b, "\n### Every run\n\n")
	fmt.Fprintf(&b, "ops/s are complete operations per second (a `code` or `login` op is a whole flow ending in a verified ID token); latencies in ms; CPU is the server process's user+system time per operation (for Hydra, its login/consent app's in brackets); RSS is the server's peak during the run.\n")
	for _, w := range ws {
		fmt.Fprintf(&b, "\n**%s**\n\n", w)
		fmt.Fprintf(&b, "| c | Gatehouse ops/s | p50 | p90 | p99 | max | Hydra ops/s | p50 | p90 | p99 | max | ratio | errors Gatehouse | errors Hydra | CPU ms/op G / H | HTTP req/op G / H | RSS peak MiB G / H |\n")
		fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range levels[w] {
			g, gok := idx[key{ours, w, c}]
			h, hok := idx[key{theirs, w, c}]
			cell := func(r Result, ok bool) string {
				if !ok {
					return "– | – | – | – | –"
				}
				return fmt.Sprintf("%s | %s | %s | %s | %s", fmtRate(r.OpsPerSec), fmtMs(r.Latency.P50), fmtMs(r.Latency.P90), fmtMs(r.Latency.P99), fmtMs(r.Latency.Max))
			}
			rss := func(r Result, ok bool) string {
				if !ok || r.ServerRSS == nil {
					return "–"
				}
				return fmt.Sprintf("%.0f", r.ServerRSS.Max)
			}
			app := ""
			if hok && h.Ops > 0 && h.AuxCPUS > 0 {
				app = fmt.Sprintf(" (+%.2f app)", 1000*h.AuxCPUS/float64(h.Ops))
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %.2f / %.2f%s | %.1f / %.1f | %s / %s |\n", c, cell(g, gok), cell(h, hok),
				ratio(g.OpsPerSec, h.OpsPerSec), errs(g, gok), errs(h, hok), g.ServerCPU, h.ServerCPU, app, g.HTTPPerOp, h.HTTPPerOp, rss(g, gok), rss(h, hok))
		}
	}

	// Memory: idle, and the peak of each workload at its highest concurrency.
	fmt.Fprintf(&b, "\n### Memory (RSS, MiB)\n\nIdle before the first run, and the peak RSS during each workload's run at its highest concurrency (Hydra's login/consent app, 8–15 MiB, not included).\n\n")
	fmt.Fprintf(&b, "| server | idle |")
	for _, w := range ws {
		fmt.Fprintf(&b, " %s (c=%d) |", w, levels[w][len(levels[w])-1])
	}
	fmt.Fprintf(&b, "\n|---|---|%s\n", strings.Repeat("---|", len(ws)))
	for _, s := range []string{ours, theirs} {
		var first *Result
		for i := range rs {
			if rs[i].Server == s && rs[i].ServerRSS != nil && (first == nil || rs[i].StartedAt.Before(first.StartedAt)) {
				first = &rs[i]
			}
		}
		if first == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %.0f |", s, first.ServerRSS.Before)
		for _, w := range ws {
			r, ok := idx[key{s, w, levels[w][len(levels[w])-1]}]
			if !ok || r.ServerRSS == nil {
				fmt.Fprintf(&b, " – |")
				continue
			}
			fmt.Fprintf(&b, " %.0f |", r.ServerRSS.Max)
		}
		fmt.Fprintf(&b, "\n")
	}
	// Where the CPU went: the machine's busy time, per operation.
	fmt.Fprintf(&b, "\n### Where the machine's CPU went, at c=16\n\nCPU ms per operation over the measured window, from /proc: the server, its helper (Hydra's login/consent app), the load generator, and everything else (PostgreSQL, Redis, other processes); idle is what the two cores had left.\n\n")
	fmt.Fprintf(&b, "| workload | server | server | its helper | load generator | everything else | idle |\n|---|---|---|---|---|---|---|\n")
	for _, w := range ws {
		for _, s := range []string{ours, theirs} {
			r, ok := idx[key{s, w, 16}]
			if !ok || r.Ops == 0 || r.MachineBusyS == 0 {
				continue
			}
			per := func(sec float64) float64 { return 1000 * sec / float64(r.Ops) }
			serverS := r.ServerCPU * float64(r.Ops) / 1000
			other := r.MachineBusyS - serverS - r.AuxCPUS - r.BenchCPUS
			fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.0f%% |\n", w, s, r.ServerCPU, per(r.AuxCPUS), per(r.BenchCPUS), per(other),
				100*r.MachineIdleS/(r.MachineBusyS+r.MachineIdleS))
		}
	}
	var loads []float64
	for _, r := range rs {
		loads = append(loads, r.Load1Before)
	}
	if len(loads) > 0 {
		slices.Sort(loads)
		fmt.Fprintf(&b, "\n1-minute load average before each run (the benchmark's own load of the previous runs included): median %.2f, max %.2f (%d runs).\n", loads[len(loads)/2], loads[len(loads)-1], len(loads))
	}
	return b.String()
}

// ceilings estimates each workload's ceiling on two cores from the unit
// costs in the issue (an HTTP request ≈ 60 µs, a Redis round trip ≈ 26 µs,
// a PostgreSQL primary-key select ≈ 50 µs) and the calibrated primitives.
// ceilings estimate each workload's best rate on two cores from the
// primitives' costs, with the signature the ID tokens were made with.
func ceilings(costs []Cost, alg string) map[string]float64 {
	cost := func(prefix string, def float64) float64 {
		for _, c := range costs {
			if strings.HasPrefix(c.Name, prefix) {
				return c.CPUMicro
			}
		}
		return def
	}
	sign := cost("RS256 sign, 2048", 1000)
	if alg == "ES256" {
		sign = cost("ES256 sign", 50)
	}
	argon := cost("argon2id", 186000)
	const http, redis, pg = 60.0, 26.0, 50.0
	us := map[string]float64{
		"cc":         http + 2*redis + pg,                     // client (cacheable), store the token
		"introspect": http + redis + pg,                       // token lookup, client auth
		"userinfo":   http + redis + pg,                       // token lookup, the user
		"refresh":    http + 4*pg + 2*redis + sign,            // grant read + rotate, new access token, ID token
		"code":       5*http + 8*redis + 2*pg + sign,          // the flow: five requests, one signature
		"login":      7*http + 12*redis + 4*pg + sign + argon, // code flow + sign-in pages + argon2id
	}
	out := map[string]float64{}
	for w, u := range us {
		out[w] = 2 * 1e6 / u
	}
	// mixed: the blend's weighted harmonic mean.
	mix := map[string]float64{"code": 30, "refresh": 20, "userinfo": 20, "introspect": 20, "cc": 10}
	var t float64
	for w, p := range mix {
		t += p / 100 * us[w]
	}
	out["mixed"] = 2 * 1e6 / t
	return out
}

func writeCSV(path string, rs []Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"server", "workload", "concurrency", "ops", "ops_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors",
		"stalled", "server_cpu_ms_per_op", "http_requests_per_op", "rss_before_mib", "rss_mean_mib", "rss_max_mib", "load1_before", "started_at"})
	for _, r := range rs {
		var before, mean, mx float64
		if r.ServerRSS != nil {
			before, mean, mx = r.ServerRSS.Before, r.ServerRSS.Mean, r.ServerRSS.Max
		}
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
		w.Write([]string{r.Server, r.Workload, strconv.Itoa(r.Concurrency), strconv.Itoa(r.Ops), f(r.OpsPerSec), f(r.Latency.P50), f(r.Latency.P90),
			f(r.Latency.P99), f(r.Latency.Max), strconv.Itoa(r.ErrorCount), strconv.Itoa(r.Stalled), f(r.ServerCPU), f(r.HTTPPerOp), f(before), f(mean), f(mx),
			f(r.Load1Before), r.StartedAt.Format(time.RFC3339)})
	}
	w.Flush()
	return w.Error()
}

var colors = map[string]color.Color{ours: color.RGBA{R: 0x1f, G: 0x6f, B: 0xb4, A: 0xff}, theirs: color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff}}

func plotPNG(path string, rs []Result) error {
	idx, levels := indexResults(rs)
	ws := workloadsIn(levels)
	const cols = 2
	rows := len(ws)
	img := vgimg.New(vg.Points(float64(cols)*360), vg.Points(float64(rows)*210))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(6), PadY: vg.Points(6),
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
	for i, w := range ws {
		for j, metric := range []string{"throughput (ops/s)", "p99 latency (ms)"} {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("%s: %s", w, metric)
			p.X.Label.Text = "concurrency"
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = levelTicks(levels[w])
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
			p.Legend.Top = true
			p.Legend.Left = true
			ymin, ymax := math.Inf(1), math.Inf(-1)
			for _, s := range []string{ours, theirs} {
				var pts plotter.XYs
				for _, c := range levels[w] {
					r, ok := idx[key{s, w, c}]
					if !ok {
						continue
					}
					v := r.OpsPerSec
					if j == 1 {
						v = r.Latency.P99
					}
					if v <= 0 || math.IsNaN(v) {
						continue
					}
					pts = append(pts, plotter.XY{X: float64(c), Y: v})
					ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
				}
				if len(pts) == 0 {
					continue
				}
				line, points, err := plotter.NewLinePoints(pts)
				if err != nil {
					return err
				}
				line.Color, points.Color = colors[s], colors[s]
				line.Width = vg.Points(1.5)
				p.Add(line, points)
				p.Legend.Add(s, line, points)
			}
			if !math.IsInf(ymin, 0) {
				// Room above for the legend, below so no point sits on the axis.
				p.Y.Min, p.Y.Max = ymin/2, ymax*8
			}
			if l := levels[w]; len(l) > 0 {
				p.X.Min, p.X.Max = float64(l[0])/1.5, float64(l[len(l)-1])*1.5
			}
			p.Add(plotter.NewGrid())
			p.Draw(tiles.At(dc, j, i))
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	return err
}

// levelTicks labels exactly the concurrency levels run.
type levelTicks []int

func (l levelTicks) Ticks(min, max float64) []plot.Tick {
	var t []plot.Tick
	for _, c := range l {
		t = append(t, plot.Tick{Value: float64(c), Label: strconv.Itoa(c)})
	}
	return t
}

const beginMark, endMark = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"

// updateSection replaces what lies between the markers in path.
func updateSection(path, md string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s … %s section", path, beginMark, endMark)
	}
	s = s[:i+len(beginMark)] + "\n" + md + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// Meta is what scripts/bench.sh records about the run.
type Meta struct {
	Run     string `json:"run"`
	Started string `json:"started"`
	Machine struct {
		NProc  string `json:"nproc"`
		CPU    string `json:"cpu"`
		Memory string `json:"memory"`
		Kernel string `json:"kernel"`
	} `json:"machine"`
	Versions struct {
		Go         string `json:"go"`
		Commit     string `json:"gatehouse_commit"`
		Uncommited int    `json:"gatehouse_uncommitted_files"`
		Hydra      string `json:"hydra"`
		Postgres   string `json:"postgres"`
		Redis      string `json:"redis"`
	} `json:"versions"`
	Levels      string `json:"levels"`
	LoginLevels string `json:"login_levels"`
	Duration    string `json:"duration"`
	Warmup      string `json:"warmup"`
	Quiet       struct {
		Achieved  bool   `json:"achieved"`
		Threshold string `json:"threshold"`
		Load      string `json:"load1_at_start"`
		WaitedS   int    `json:"waited_s"`
	} `json:"quiet"`
	LoadAtEnd string            `json:"load1_at_end"`
	FreshRSS  map[string]string `json:"fresh_rss_mib"`
	// IDTokenAlg is what Gatehouse's bench app registered for its ID tokens.
	IDTokenAlg string `json:"gatehouse_id_token_alg"`
}

func (m Meta) alg() string {
	if m.IDTokenAlg == "" {
		return "RS256"
	}
	return m.IDTokenAlg
}

func metaSection(m Meta, costs []Cost, link string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run `%s` (started %s).\n\n", m.Run, m.Started)
	fmt.Fprintf(&b, "- Machine: %s cores (`nproc`), %s, %s RAM, Linux %s; the load generator, PostgreSQL and Redis share the same cores.\n",
		m.Machine.NProc, m.Machine.CPU, m.Machine.Memory, m.Machine.Kernel)
	dirty := ""
	if m.Versions.Uncommited > 0 {
		dirty = fmt.Sprintf(" plus %d uncommitted files in the working tree", m.Versions.Uncommited)
	}
	fmt.Fprintf(&b, "- Versions: Gatehouse `%s`%s; Ory Hydra %s; PostgreSQL %s; Redis %s; %s.\n",
		m.Versions.Commit, dirty, m.Versions.Hydra, m.Versions.Postgres, m.Versions.Redis, m.Versions.Go)
	fmt.Fprintf(&b, "- ID tokens: Gatehouse's bench app is registered for %s (`--id-token-alg`; the server's default is RS256, 2048-bit; [both side by side](#the-id-token-signing-algorithm)); Hydra signs with its default, RS256 with a 4096-bit key.\n", m.alg())
	fmt.Fprintf(&b, "- Each run: %s warm-up, then %s measured, at concurrency %s (first sign-ins: %s); the two servers alternate which goes first.\n",
		m.Warmup, m.Duration, m.Levels, m.LoginLevels)
	if m.Quiet.Achieved {
		fmt.Fprintf(&b, "- Quiet machine: the 1-minute load average was %s (< %s) when measuring started, after waiting %d s.", m.Quiet.Load, m.Quiet.Threshold, m.Quiet.WaitedS)
	} else {
		fmt.Fprintf(&b, "- **The machine never got quiet**: after waiting %d s the 1-minute load average was still %s (≥ %s), so this ran alongside other work and the absolute figures are low and noisy; the ratios, taken run by run in alternation, are the more robust result.", m.Quiet.WaitedS, m.Quiet.Load, m.Quiet.Threshold)
	}
	if m.LoadAtEnd != "" {
		fmt.Fprintf(&b, " It was %s at the end.", m.LoadAtEnd)
	}
	fmt.Fprintf(&b, "\n- Fresh RSS after start-up, before provisioning: Gatehouse %s MiB, Hydra %s MiB (its login/consent app %s MiB).\n",
		m.FreshRSS["gatehouse"], m.FreshRSS["hydra"], m.FreshRSS["consent_app"])
	if link != "" {
		fmt.Fprintf(&b, "- Raw results: [`%[1]s/results.jsonl`](%[1]s/results.jsonl), [`results.csv`](%[1]s/results.csv), profiles in [`%[1]s/profiles/`](%[1]s/profiles/).\n", link)
		fmt.Fprintf(&b, "\n![Throughput and p99 latency against concurrency, per workload](%s/bench.png)\n", link)
	}
	b.WriteString("\n")
	return b.String()
}

// OpCount is one line of opcounts.jsonl.
type OpCount struct {
	Server        string   `json:"server"`
	Workload      string   `json:"workload"`
	Ops           int      `json:"ops"`
	HTTP          float64  `json:"http_per_op"`
	Xacts         float64  `json:"pg_xacts_per_op"`
	Scans         float64  `json:"pg_table_scans_per_op"`
	RowsRead      float64  `json:"pg_rows_read_per_op"`
	RowsWritten   float64  `json:"pg_rows_written_per_op"`
	RedisCommands *float64 `json:"redis_cmds_per_op"`
}

func opcountSection(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var ocs []OpCount
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var oc OpCount
		if err := json.Unmarshal([]byte(line), &oc); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		ocs = append(ocs, oc)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n### Work per operation\n\n")
	fmt.Fprintf(&sb, "One operation at a time (c=1); PostgreSQL figures are deltas of `pg_stat_database` and `pg_stat_user_tables` for the server's own database (background jobs included, so ±0.1), Redis commands are those `MONITOR` shows on Gatehouse's keys. HTTP requests are the generator's, browser and back channel.\n\n")
	fmt.Fprintf(&sb, "| workload | server | ops | HTTP requests | PG transactions | PG table scans | PG rows read | PG rows written | Redis commands |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range order {
		for _, s := range []string{ours, theirs} {
			for _, oc := range ocs {
				if oc.Server != s || oc.Workload != w {
					continue
				}
				rc := "–"
				if oc.RedisCommands != nil {
					rc = fmt.Sprintf("%.1f", *oc.RedisCommands)
				}
				fmt.Fprintf(&sb, "| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %s |\n", w, s, oc.Ops, oc.HTTP, oc.Xacts, oc.Scans, oc.RowsRead, oc.RowsWritten, rc)
			}
		}
	}
	return sb.String(), nil
}

func costSection(costs []Cost) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### What the primitives cost on this machine\n\n`gatehouse-bench calibrate`, one goroutine, CPU time per operation:\n\n| primitive | CPU µs |\n|---|---|\n")
	for _, c := range costs {
		fmt.Fprintf(&b, "| %s | %s |\n", c.Name, strconv.FormatFloat(c.CPUMicro, 'f', 1, 64))
	}
	return b.String()
}

// experimentsSection sets the bench app's token workloads with ID tokens
// signed ES256 (as the comparison ran) beside the same runs with the
// server's default, RS256, and Hydra's runs at the same concurrency.
func experimentsSection(es, main []Result) string {
	idx, levels := indexResults(es)
	mainIdx, _ := indexResults(main)
	var labels []string
	for _, r := range es {
		if !slices.Contains(labels, r.Server) {
			labels = append(labels, r.Server)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n### The ID token signing algorithm\n\n")
	fmt.Fprintf(&b, "The workloads that sign ID tokens, one run after the other: Gatehouse's bench app registered for %s (as in the comparison above), then re-registered for %s; Hydra's figures are its runs above at the same concurrency (RS256, 4096-bit, its default). Each cell: ops/s · p99 ms · server CPU ms/op.\n\n", labels[0], strings.Join(labels[1:], ", then "))
	fmt.Fprintf(&b, "| workload | c |")
	for _, l := range labels {
		fmt.Fprintf(&b, " Gatehouse %s |", l)
	}
	fmt.Fprintf(&b, " Hydra |")
	for _, l := range labels {
		fmt.Fprintf(&b, " %s ÷ Hydra |", l)
	}
	fmt.Fprintf(&b, "\n|---|---|%s\n", strings.Repeat("---|", 2*len(labels)+1))
	cell := func(r Result) string {
		return fmt.Sprintf("%s · %s · %.2f", fmtRate(r.OpsPerSec), fmtMs(r.Latency.P99), r.ServerCPU)
	}
	for _, w := range workloadsIn(levels) {
		for _, c := range levels[w] {
			hy, hok := mainIdx[key{"hydra", w, c}]
			row := []string{w, strconv.Itoa(c)}
			var ratios []string
			for _, l := range labels {
				r, ok := idx[key{l, w, c}]
				switch {
				case !ok:
					row, ratios = append(row, "–"), append(ratios, "–")
				case !hok:
					row, ratios = append(row, cell(r)), append(ratios, "–")
				default:
					row, ratios = append(row, cell(r)), append(ratios, ratio(r.OpsPerSec, hy.OpsPerSec))
				}
			}
			if hok {
				row = append(row, cell(hy))
			} else {
				row = append(row, "–")
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(append(row, ratios...), " | "))
		}
	}
	return b.String()
}
