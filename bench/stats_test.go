package main

import (
	"os"
	"os/exec"
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

// A tool's figures must count what its processes start: a render worker that is running, and
// the CPU of a command that has ended.
func TestProcessTreeCountsWhatItsProcessesStart(t *testing.T) {
	tree := newProcessTree(os.Getpid())
	before := tree.CPU()

	busy := exec.Command("sh", "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`)
	if err := busy.Run(); err != nil {
		t.Fatal(err)
	}
	childCPU := busy.ProcessState.UserTime() + busy.ProcessState.SystemTime()
	if childCPU < 50*time.Millisecond {
		t.Fatalf("the busy loop took only %v of CPU: too little to tell", childCPU)
	}
	if got := tree.CPU() - before; got < childCPU-20*time.Millisecond {
		t.Errorf("the tree's CPU grew by %v, less than the %v of the command it ran", got, childCPU)
	}

	alone := tree.PeakRSS()
	// A child holding 64 MiB while it runs.
	worker := exec.Command("sh", "-c", `x=$(head -c 67108864 /dev/zero | tr '\0' a); echo ready; sleep 30`)
	out, err := worker.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = worker.Process.Kill(); _ = worker.Wait() }()
	if _, err := out.Read(make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	if got := tree.PeakRSS(); got < alone+48<<20 {
		t.Errorf("peak RSS with a child holding 64 MiB: %d MiB, alone %d MiB", got>>20, alone>>20)
	}
	if got := tree.PeakAnon(); got < 48<<20 {
		t.Errorf("peak anonymous memory with a child holding 64 MiB: %d MiB", got>>20)
	}
	if tree.Processes() < 2 {
		t.Errorf("the tree saw %d processes, want this one and its child", tree.Processes())
	}
}
