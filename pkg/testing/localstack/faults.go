package localstack

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// Kill ends a component at once (SIGKILL), as a crash or a lost machine would, and waits until
// it is gone. StartAgain brings it back. For fault tests.
func (s *Stack) Kill(component string) error {
	pid, err := s.Pid(component)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing %s (pid %d): %w", component, pid, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := s.layout.running(component); err != nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s (pid %d) still runs 10s after SIGKILL", component, pid)
}

// StartAgain starts etcd or kube-apiserver again, as this process first started it (same
// flags, ports and data), and waits until it is healthy.
func (s *Stack) StartAgain(ctx context.Context, component string) error {
	p := s.procs[component]
	if p == nil {
		return fmt.Errorf("%s was not started by this process: it cannot be started again from here", component)
	}
	var check func(context.Context) error
	switch component {
	case "etcd":
		check = s.EtcdHealthy(s.EtcdURL())
	case "kube-apiserver":
		check = httpOK("https://127.0.0.1:"+s.Env["KUBE_PORT"]+"/readyz", s.layout.PKI("ca.crt"), s.tokens["admin"])
	default:
		return fmt.Errorf("starting %s again is not supported (etcd and kube-apiserver are)", component)
	}
	if err := s.startProcess(component, p.withParent, p.env, p.argv...); err != nil {
		return err
	}
	return s.waitFor(ctx, Config{WaitTimeout: time.Minute}, component, component+" healthy again", check)
}
