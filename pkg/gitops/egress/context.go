package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
)

type policyKey struct{}

// WithPolicy returns a context whose fetches ContextTransport checks against p (nil: every
// address). It is for clients a library installs once for the whole process (go-git's), whose
// requests carry the caller's context but not the caller's transport.
func WithPolicy(ctx context.Context, p *Policy) context.Context {
	return context.WithValue(ctx, policyKey{}, &p)
}

// errNoPolicy is a request whose context carries no policy: a fetch that forgot to say under
// which policy it runs is refused rather than let through.
var errNoPolicy = errors.New("fetch refused: no egress policy was given for it")

func fromContext(ctx context.Context) (*Policy, error) {
	p, ok := ctx.Value(policyKey{}).(**Policy)
	if !ok {
		return nil, errNoPolicy
	}
	return *p, nil
}

// ContextTransport returns an HTTP transport whose connections are checked against the policy
// of each request's context (WithPolicy); a request with none is refused.
func ContextTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		p, err := fromContext(ctx)
		if err != nil {
			return nil, err
		}
		return p.DialContext(ctx, network, address)
	}
	t.Proxy = func(req *http.Request) (*url.URL, error) {
		p, err := fromContext(req.Context())
		if err != nil {
			return nil, err
		}
		return p.proxy(req)
	}
	return t
}
