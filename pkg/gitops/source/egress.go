package source

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/net/proxy"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
)

// Each transport of go-git connects its own way, and each is put under the Cache's egress
// policy its own way:
//   - http and https: go-git's client is the process's (useQuietHTTPClient); it dials under the
//     policy the request's context carries (egress.WithPolicy).
//   - ssh: go-git dials through golang.org/x/net/proxy when given a proxy URL. A URL of the
//     scheme egressProxyScheme names this process's dialer of one Cache's policy.
//   - git: go-git dials the host's name itself, with no hook. The name is resolved here, checked,
//     and the connection made to that address (a second resolution could answer otherwise).

// egressProxyScheme is the scheme of the ssh "proxy" URLs that name a policy's dialer.
const egressProxyScheme = "ferry-egress"

var (
	policiesMu sync.Mutex
	policies   = map[string]*egress.Policy{}
)

func init() {
	proxy.RegisterDialerType(egressProxyScheme, func(u *url.URL, _ proxy.Dialer) (proxy.Dialer, error) {
		policiesMu.Lock()
		defer policiesMu.Unlock()
		p, ok := policies[u.Host]
		if !ok {
			return nil, fmt.Errorf("no egress policy %q in this process", u.Host)
		}
		return p, nil // its Dial and DialContext check every connection
	})
}

// sshProxyOptions registers p and returns the go-git proxy options that make ssh connections
// dial under it.
func sshProxyOptions(p *egress.Policy) transport.ProxyOptions {
	policiesMu.Lock()
	defer policiesMu.Unlock()
	id := "p" + strconv.Itoa(len(policies))
	policies[id] = p
	return transport.ProxyOptions{URL: egressProxyScheme + "://" + id}
}

// remote says how to reach repoURL under the Cache's egress policy: the context to give
// go-git, the URL to connect to, and its proxy options.
func (c *Cache) remote(ctx context.Context, repoURL string) (context.Context, string, transport.ProxyOptions, error) {
	ctx = egress.WithPolicy(ctx, c.opts.Egress)
	switch {
	case isSSHURL(repoURL):
		return ctx, repoURL, c.sshProxy, nil
	case strings.HasPrefix(repoURL, "git://") && c.opts.Egress != nil:
		u, err := url.Parse(repoURL)
		if err != nil {
			return ctx, "", transport.ProxyOptions{}, err
		}
		addr, err := c.opts.Egress.Resolve(ctx, u.Hostname())
		if err != nil {
			return ctx, "", transport.ProxyOptions{}, err
		}
		if port := u.Port(); port != "" {
			u.Host = net.JoinHostPort(addr.String(), port)
		} else if addr.Is6() {
			u.Host = "[" + addr.String() + "]"
		} else {
			u.Host = addr.String()
		}
		return ctx, u.String(), transport.ProxyOptions{}, nil
	}
	return ctx, repoURL, transport.ProxyOptions{}, nil
}
