package localstack

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Ports of one stack's components on 127.0.0.1. Zero asks for a free port. FerryWebhook is
// ferry-apiserver's webhook listener (Receivers).
type Ports struct {
	Etcd, EtcdPeer, Kube, KCM, Scheduler, Kwok, Ferry, FerryWebhook int
}

// DefaultPorts are make dev-up's fixed ports, which stay the same across restarts so a shell's
// KUBECONFIG keeps working.
var DefaultPorts = Ports{Etcd: 22379, EtcdPeer: 22380, Kube: 26443, KCM: 20257, Scheduler: 20259, Kwok: 20247, Ferry: 28443, FerryWebhook: 28444}

// SecondClusterPorts are make dev-up's second cluster's ports (it runs no Ferry).
var SecondClusterPorts = Ports{Etcd: 22479, EtcdPeer: 22480, Kube: 26543, KCM: 20357, Scheduler: 20359, Kwok: 20347}

// heldPorts keeps the free ports it picked bound until each component is about to start, so no
// other process (another test binary's stack) is handed the same port in between.
type heldPorts struct {
	listeners map[int]net.Listener
}

// resolve fills in the zero ports with free ones (held) and checks that the others are free.
func (p *Ports) resolve() (*heldPorts, error) {
	held := &heldPorts{listeners: map[int]net.Listener{}}
	for _, f := range []struct {
		name string
		port *int
	}{{"etcd", &p.Etcd}, {"etcd peer", &p.EtcdPeer}, {"kube-apiserver", &p.Kube}, {"kube-controller-manager", &p.KCM}, {"kube-scheduler", &p.Scheduler}, {"kwok", &p.Kwok}, {"ferry-apiserver", &p.Ferry}, {"ferry-apiserver's webhook listener", &p.FerryWebhook}} {
		if *f.port != 0 {
			if *f.port < 0 || *f.port > 65535 {
				held.release()
				return nil, fmt.Errorf("%s port %d is not a port number", f.name, *f.port)
			}
			if portInUse(*f.port) {
				held.release()
				return nil, fmt.Errorf("the %s port %d on 127.0.0.1 is in use by another process: free it (ss -ltnp 'sport = :%d') or choose another port (0 or auto picks a free one)", f.name, *f.port, *f.port)
			}
			continue
		}
		l, err := listenOutsideEphemeralRange()
		if err != nil {
			held.release()
			return nil, fmt.Errorf("finding a free port for %s: %w", f.name, err)
		}
		*f.port = l.Addr().(*net.TCPAddr).Port
		held.listeners[*f.port] = l
	}
	return held, nil
}

// free releases port just before the component that listens on it starts.
func (h *heldPorts) free(ports ...int) {
	for _, port := range ports {
		if l, ok := h.listeners[port]; ok {
			_ = l.Close()
			delete(h.listeners, port)
		}
	}
}

func (h *heldPorts) release() {
	for port := range h.listeners {
		h.free(port)
	}
}

// listenOutsideEphemeralRange binds a free port below the kernel's ephemeral range. A port the
// kernel picks for ":0" comes from that range, which is also where every outgoing connection's
// source port comes from: between releasing it and the component binding it (a second or more
// for kube-controller-manager), a connection of any process may take it, and the component
// exits with "address already in use".
func listenOutsideEphemeralRange() (net.Listener, error) {
	low := ephemeralLow()
	const floor = 10000
	if low-floor < 1000 {
		return net.Listen("tcp", "127.0.0.1:0")
	}
	var lastErr error
	for i := 0; i < 200; i++ {
		port := floor + rand.IntN(low-floor)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return l, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("no free port between %d and %d: %w", floor, low, lastErr)
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768 when it cannot be read).
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil {
		return 32768
	}
	return low
}

func portInUse(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// FreePort returns a port of 127.0.0.1 that is free now and lies below the ephemeral range, for
// a server a test starts itself: no outgoing connection of another process takes it before the
// server binds it.
func FreePort() (int, error) {
	l, err := listenOutsideEphemeralRange()
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
