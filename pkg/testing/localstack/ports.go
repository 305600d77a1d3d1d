package localstack

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Ports of one stack's components on 127.0.0.1. Zero asks for a free port.
type Ports struct {
	Etcd, EtcdPeer, Kube, KCM, Ferry int
}

// DefaultPorts are make dev-up's fixed ports, which stay the same across restarts so a shell's
// KUBECONFIG keeps working.
var DefaultPorts = Ports{Etcd: 22379, EtcdPeer: 22380, Kube: 26443, KCM: 20257, Ferry: 28443}

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
	}{{"etcd", &p.Etcd}, {"etcd peer", &p.EtcdPeer}, {"kube-apiserver", &p.Kube}, {"kube-controller-manager", &p.KCM}, {"ferry-apiserver", &p.Ferry}} {
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
		l, err := net.Listen("tcp", "127.0.0.1:0")
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

func portInUse(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
