package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
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
	CPU     time.Duration // user + system time since the process started
	RSS     int64         // resident set size, bytes
	PeakRSS int64         // peak resident set size (VmHWM), bytes
}

// sampleProcess reads pid's CPU time and memory from /proc.
func sampleProcess(pid int) (process, error) {
	var p process
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
	}
	// The command name may hold spaces; the fields after it are space-separated.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
	if len(fields) < 13 {
		return p, fmt.Errorf("/proc/%d/stat has %d fields after the name", pid, len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return p, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, fields[11], fields[12])
	}
	p.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, fmt.Errorf("reading the memory of process %d: %w", pid, err)
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
		}
	}
	return p, nil
}

// mib formats bytes as MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

// ms is a duration in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// seconds is a duration in seconds.
func seconds(d time.Duration) float64 { return d.Seconds() }
