package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
)

// Sender delivers requests under the notification address policy, with retries.
type Sender struct {
	client *http.Client
	// Attempts is how many times a request is tried; Backoff the wait before the second, doubled
	// before each next one.
	Attempts int
	Backoff  time.Duration
}

// DefaultAttempts and DefaultBackoff: four tries over about seven seconds.
const (
	DefaultAttempts = 4
	DefaultBackoff  = time.Second
)

// NewSender is a Sender whose every connection policy checks at the dial (so a name that
// resolves to a denied address is refused as a literal one is), and which follows no redirect:
// a provider's token goes to its address and nowhere else.
func NewSender(policy *egress.Policy) *Sender {
	return &Sender{
		client: &http.Client{
			Transport: policy.Transport(),
			Timeout:   10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		Attempts: DefaultAttempts,
		Backoff:  DefaultBackoff,
	}
}

// Send posts r until the remote accepts it (2xx) or the attempts are spent, and returns how many
// attempts it made. Connection errors, 429 and 5xx are retried; other answers are final. The
// error says what went wrong in Ferry's words: the status code or the kind of network failure,
// never the remote's body or the address (which may be the secret).
func (s *Sender) Send(ctx context.Context, r Request) (attempts int, err error) {
	wait := s.Backoff
	for attempts = 1; ; attempts++ {
		var retry bool
		retry, err = s.once(ctx, r)
		if err == nil || !retry || attempts >= s.Attempts {
			return attempts, err
		}
		select {
		case <-ctx.Done():
			return attempts, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (s *Sender) once(ctx context.Context, r Request) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return false, errors.New("the provider's address is not a URL")
	}
	req.Header = r.Header.Clone()
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, egress.ErrRefused) {
			return false, ErrRefused
		}
		return true, errors.New(describe(err))
	}
	// Drain a little so the connection can be reused; the body is never read into a message.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return true, fmt.Errorf("the provider answered %s", resp.Status)
	default:
		return false, fmt.Errorf("the provider answered %s", resp.Status)
	}
}

// ErrRefused is a delivery the notification address policy refused at the dial.
var ErrRefused = errors.New("delivery refused: the provider's address resolves to a loopback, link-local or metadata address, which ferry-apiserver's --notification-allowed-cidrs does not list")

// describe is egress.Describe in the words of a delivery.
func describe(err error) string {
	return "delivery failed: " + strings.TrimPrefix(egress.Describe(err), "fetch failed: ")
}
