package main

import (
	"os"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 1: time.Millisecond} {
		if got := percentile(ds, p); got != want {
			t.Errorf("p%v of 1..100 ms = %v, want %v", p, got, want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v", got)
	}
	if ds[0] != 100*time.Millisecond {
		t.Errorf("percentile sorted its input in place")
	}
}

func TestSampleProcessSeesThisProcess(t *testing.T) {
	before, err := sampleProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel's accounting (10 ms ticks) shows it.
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i
		}
		after, err := sampleProcess(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after.CPU > before.CPU {
			if after.RSS <= 0 || after.PeakRSS < after.RSS {
				t.Errorf("RSS %d, peak %d", after.RSS, after.PeakRSS)
			}
			return
		}
	}
	t.Errorf("10 s of spinning never showed as CPU time (%d)", x)
}
