package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// rssKiB reads VmRSS of pid from /proc/<pid>/status.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// cpuSeconds reads the user+system CPU time pid has used.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU takes utime and stime (fields 14 and 15) from a
// /proc/<pid>/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted after its closing parenthesis.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat line")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat line")
	}
	return float64(u+s) / clockTicks, nil
}

// machineCPU reads the whole machine's busy and idle CPU time from
// /proc/stat (all cores; iowait counts as idle).
func machineCPU() (busy, idle float64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseProcStat(line)
}

// parseProcStat reads the aggregate "cpu" line: user nice system idle
// iowait irq softirq steal (guest time is already inside user).
func parseProcStat(line string) (busy, idle float64, err error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("malformed /proc/stat line")
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("malformed /proc/stat line")
		}
		v[i] = n
	}
	busy = float64(v[0]+v[1]+v[2]+v[5]+v[6]+v[7]) / clockTicks
	idle = float64(v[3]+v[4]) / clockTicks
	return busy, idle, nil
}

// selfCPUSeconds is the CPU time this process (the generator) has used.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// loadAvg1 is the 1-minute load average.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// RSSStats is a process's resident memory over a run, in MiB.
type RSSStats struct {
	PID    int     `json:"pid"`
	Before float64 `json:"before_mib"` // before the virtual users set up: idle
	Mean   float64 `json:"mean_mib"`   // during the measurement window
	Max    float64 `json:"max_mib"`    // during setup, warm-up and measurement
	After  float64 `json:"after_mib"`
}

// rssSampler polls a process's RSS until stopped.
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	max  int64
	sum  int64
	n    int64
	from time.Time // samples after from count towards the mean
	done chan struct{}
	wg   sync.WaitGroup
}

func startRSS(ctx context.Context, pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{}), from: time.Now().Add(365 * 24 * time.Hour)}
	if pid <= 0 {
		return s
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, err := rssKiB(pid); err == nil {
				s.mu.Lock()
				s.max = max(s.max, v)
				if !time.Now().Before(s.from) {
					s.sum += v
					s.n++
				}
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// measureFrom starts the window the mean is taken over.
func (s *rssSampler) measureFrom(t time.Time) {
	s.mu.Lock()
	s.from = t
	s.mu.Unlock()
}

func (s *rssSampler) stop() (maxKiB, meanKiB int64) {
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > 0 {
		meanKiB = s.sum / s.n
	}
	return s.max, meanKiB
}

func mib(kib int64) float64 { return float64(kib) / 1024 }
