package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// percentile returns the p-th percentile (0..100) of ds by nearest rank; 0 for no samples.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(p/100*float64(len(s))+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return s[rank]
}

// median is the 50th percentile.
func median(ds []time.Duration) time.Duration { return percentile(ds, 50) }

// repeat runs f n times and returns the median of its durations.
func repeat(n int, f func() (time.Duration, error)) (time.Duration, error) {
	var ds []time.Duration
	for range n {
		d, err := f()
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	return median(ds), nil
}

// timed measures f.
func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times; 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// process is a sample of a process's resource use from /proc.
type process struct {
	PID     int
	CPU     time.Duration // user + system time since the process started
	RSS     int64         // resident set size, bytes
	PeakRSS int64         // peak resident set size (VmHWM), bytes
	// AnonRSS is the anonymous part of the resident set (RssAnon): the process's own memory,
	// without the pages of its executable and of the files it maps, which the kernel shares and
	// can drop.
	AnonRSS int64
	// ChildrenCPU is the user + system time of its children that have ended and been waited
	// for (and of theirs).
	ChildrenCPU time.Duration
	// Parent is the parent's process ID; Start the process's start time in clock ticks since
	// boot, which tells a process from a later one with the same ID.
	Parent, Start int64
}

// sampleProcess reads pid's CPU time and memory from /proc.
func sampleProcess(pid int) (process, error) {
	p, err := readStat(pid)
	if err != nil {
		return p, err
	}
	return p, p.readMemory()
}

// readStat reads pid's CPU times, parent and start time from /proc/<pid>/stat.
func readStat(pid int) (process, error) {
	p := process{PID: pid}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	// The command name may hold spaces; the fields after it are space-separated.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// Of the whole line, ppid is field 4, utime and stime 14 and 15, cutime and cstime 16 and 17,
	// starttime 22: after the name, two less.
	if len(fields) < 20 {
		return p, fmt.Errorf("/proc/%d/stat has %d fields after the name", pid, len(fields))
	}
	var v [5]int64
	for i, f := range []int{11, 12, 13, 14, 19} {
		n, err := strconv.ParseInt(fields[f], 10, 64)
		if err != nil {
			return p, fmt.Errorf("/proc/%d/stat: field %d is %q", pid, f+3, fields[f])
		}
		v[i] = n
	}
	p.CPU = time.Duration(v[0]+v[1]) * time.Second / clockTicks
	p.ChildrenCPU = time.Duration(v[2]+v[3]) * time.Second / clockTicks
	p.Start = v[4]
	if p.Parent, err = strconv.ParseInt(fields[1], 10, 64); err != nil {
		return p, fmt.Errorf("/proc/%d/stat: ppid %q", pid, fields[1])
	}
	return p, nil
}

// readMemory fills in p's memory from /proc/<pid>/status.
func (p *process) readMemory() error {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return fmt.Errorf("reading the memory of process %d: %w", p.PID, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			p.RSS = kb << 10
		case "VmHWM":
			p.PeakRSS = kb << 10
		case "RssAnon":
			p.AnonRSS = kb << 10
		}
	}
	return nil
}

// processTree follows some processes and all their descendants: a tool's figures count what its
// processes start, such as Ferry's render workers and the git, helm and kustomize commands Argo
// CD's repo-server runs.
type processTree struct {
	roots []int
	mu    sync.Mutex
	// rootPeaks is each root's VmHWM; startedPeak the highest sum, over the samples, of the VmHWM
	// of the living processes the roots started (many short-lived commands one after another
	// are not all resident at once); seen every process of the tree, by ID and start time.
	rootPeaks   map[int]int64
	startedPeak int64
	seen        map[[2]int64]bool
	// anonPeak is the highest sum, over the samples, of the tree's anonymous resident sets.
	anonPeak int64
}

func newProcessTree(roots ...int) *processTree {
	return &processTree{roots: roots, rootPeaks: map[int]int64{}, seen: map[[2]int64]bool{}}
}

// live samples the roots and their living descendants: one read of each process's stat to find
// the tree, and of its status for the members only.
func (t *processTree) live() []process {
	stats := map[int]process{}
	byParent := map[int64][]int{}
	if entries, err := os.ReadDir("/proc"); err == nil {
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if s, err := readStat(pid); err == nil {
				stats[pid] = s
				byParent[s.Parent] = append(byParent[s.Parent], pid)
			}
		}
	}
	var out []process
	queue := slices.Clone(t.roots)
	seen := map[int]bool{}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		s, ok := stats[pid]
		if seen[pid] || !ok || s.readMemory() != nil {
			continue // seen already, or ended since
		}
		seen[pid] = true
		out = append(out, s)
		queue = append(queue, byParent[int64(pid)]...)
	}
	return out
}

// CPU is the CPU time of the whole tree so far: of each living process and of the descendants
// that have ended, which their parents waited for.
func (t *processTree) CPU() time.Duration {
	var cpu time.Duration
	for _, s := range t.live() {
		cpu += s.CPU + s.ChildrenCPU
	}
	return cpu
}

// Observe samples the resident sets of the tree.
func (t *processTree) Observe() {
	samples := t.live()
	t.mu.Lock()
	defer t.mu.Unlock()
	var started, anon int64
	for _, s := range samples {
		anon += s.AnonRSS
		t.seen[[2]int64{int64(s.PID), s.Start}] = true
		if slices.Contains(t.roots, s.PID) {
			t.rootPeaks[s.PID] = max(t.rootPeaks[s.PID], s.PeakRSS)
		} else {
			started += s.PeakRSS
		}
	}
	t.startedPeak = max(t.startedPeak, started)
	t.anonPeak = max(t.anonPeak, anon)
}

// PeakAnon is the highest anonymous resident set of the whole tree seen by Observe.
func (t *processTree) PeakAnon() int64 {
	t.Observe()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.anonPeak
}

// ObserveEvery calls Observe every interval until ctx ends, so that the processes the roots
// start are seen while they run.
func (t *processTree) ObserveEvery(ctx context.Context, interval time.Duration) {
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			t.Observe()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// PeakRSS is the sum of the roots' peak resident sets and of the highest resident set of the
// processes they started, as for a tool of several processes.
func (t *processTree) PeakRSS() int64 {
	t.Observe()
	t.mu.Lock()
	defer t.mu.Unlock()
	sum := t.startedPeak
	for _, v := range t.rootPeaks {
		sum += v
	}
	return sum
}

// Processes is how many processes the tree has held so far, the roots included.
func (t *processTree) Processes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen)
}

// mib formats bytes as MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

// ms is a duration in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// seconds is a duration in seconds.
func seconds(d time.Duration) float64 { return d.Seconds() }

// roundSeconds is a figure in seconds as a duration to the nearest second, for printing.
func roundSeconds(v float64) time.Duration {
	return time.Duration(v * float64(time.Second)).Round(time.Second)
}
