package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// MaxBody is the largest delivery accepted: GitHub caps its payloads at 25 MB, but a push
// payload that names a repository and its changed files is a few kilobytes; more is refused
// with 413 before any of it is parsed.
const MaxBody = 1 << 20

// Defaults of the per-Receiver rate limit: a burst of DefaultBurst deliveries, refilled at
// DefaultRate a second. A merge train pushes a few times a minute; more is a flood.
const (
	DefaultRate  = 2
	DefaultBurst = 20
)

// refreshParallelism bounds the refreshes one delivery makes at once.
const refreshParallelism = 8

// Config is what the server reads Receivers, tokens and Applications with, and refreshes with.
type Config struct {
	// Receiver finds the Receiver whose status.webhookPath is path.
	Receiver func(path string) (*gitopsv1alpha1.Receiver, bool)
	// Token reads the key "token" of the Secret namespace/name.
	Token func(ctx context.Context, namespace, name string) ([]byte, error)
	// Applications lists the Applications of namespace that selector selects.
	Applications func(ctx context.Context, namespace string, selector labels.Selector) ([]*gitopsv1alpha1.Application, error)
	// Refresh posts a refresh of namespace/name with reason, as Ferry.
	Refresh func(ctx context.Context, namespace, name, reason string) error
	// Recorder, when set, records failures as Events on the Receiver.
	Recorder record.EventRecorder
	// Rate and Burst limit each Receiver's deliveries; zero means the defaults.
	Rate  float32
	Burst int
}

// Server serves deliveries to Receivers' paths.
type Server struct {
	cfg Config

	mu       sync.Mutex
	limiters map[string]flowcontrol.RateLimiter
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	return &Server{cfg: cfg, limiters: map[string]flowcontrol.RateLimiter{}}
}

// Run listens on addr until ctx ends. ready, when not nil, is told the address bound (for
// addr's port 0).
func (s *Server) Run(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("webhook listener on %s: %w", addr, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	klog.FromContext(ctx).Info("Serving Receivers' webhooks", "address", ln.Addr().String())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhook listener on %s: %w", addr, err)
	}
	return nil
}

// result is the JSON answer to a delivery.
type result struct {
	Refreshed int    `json:"refreshed"`
	Skipped   int    `json:"skipped,omitempty"`
	Failed    int    `json:"failed,omitempty"`
	Message   string `json:"message,omitempty"`
}

// ServeHTTP handles one delivery, in the order that costs an unauthenticated sender least: the
// path must name a Receiver (else 404, the body unread), the Receiver's rate limit must allow it
// (429), the body must fit MaxBody (413), the signature must match the token (401 unsigned, 403
// wrong) — all before the body is parsed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	logger := klog.FromContext(r.Context()).WithName("webhook")
	if !strings.HasPrefix(r.URL.Path, PathPrefix) {
		http.NotFound(w, r)
		return
	}
	rcv, ok := s.cfg.Receiver(r.URL.Path)
	if !ok {
		logger.V(2).Info("Delivery to an unknown path refused", "remote", r.RemoteAddr)
		http.NotFound(w, r)
		return
	}
	logger = logger.WithValues("receiver", klog.KObj(rcv))
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "deliveries are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if !s.limiter(rcv).TryAccept() {
		logger.V(2).Info("Delivery refused: rate limit")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many deliveries to this Receiver", http.StatusTooManyRequests)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		http.Error(w, "reading the delivery failed", http.StatusBadRequest)
		return
	}
	if len(body) > MaxBody {
		logger.V(2).Info("Delivery refused: body too large")
		http.Error(w, fmt.Sprintf("deliveries are at most %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
		return
	}
	token, err := s.cfg.Token(r.Context(), rcv.Namespace, rcv.Spec.SecretRef.Name)
	if err != nil {
		s.warn(rcv, "TokenUnavailable", "cannot read the token of secret %s/%s: %v", rcv.Namespace, rcv.Spec.SecretRef.Name, err)
		logger.Error(err, "Delivery refused: the Receiver's token cannot be read")
		http.Error(w, "the Receiver's token cannot be read", http.StatusServiceUnavailable)
		return
	}
	if Path(token, rcv.Name, rcv.Namespace) != r.URL.Path {
		// The token changed and status.webhookPath has not yet: the old path is gone.
		http.NotFound(w, r)
		return
	}
	if err := Verify(rcv.Spec.Type, r.Header, body, token); err != nil {
		code := http.StatusForbidden
		if errors.Is(err, ErrUnsigned) {
			code = http.StatusUnauthorized
		}
		s.warn(rcv, "DeliveryRejected", "a delivery from %s was refused: %v", remoteHost(r), err)
		logger.V(2).Info("Delivery refused", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, err.Error(), code)
		return
	}
	switch Event(rcv.Spec.Type, r.Header) {
	case EventPing:
		writeJSON(w, http.StatusOK, result{Message: "pong"})
		return
	case EventOther:
		writeJSON(w, http.StatusAccepted, result{Message: "only push events refresh; this one is ignored"})
		return
	}
	push, err := ParsePush(rcv.Spec.Type, body)
	if err != nil {
		s.warn(rcv, "DeliveryInvalid", "a signed delivery could not be read: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := s.refresh(r.Context(), rcv, push)
	if err != nil {
		s.warn(rcv, "RefreshFailed", "%v", err)
		logger.Error(err, "Delivery failed", "refreshed", res.Refreshed)
		res.Message = err.Error()
		writeJSON(w, http.StatusInternalServerError, res)
		return
	}
	logger.Info("Push received", "after", push.After, "refs", push.Refs, "refreshed", res.Refreshed, "skipped", res.Skipped)
	logger.V(2).Info("Push details", "urls", push.URLs, "paths", len(push.Paths))
	writeJSON(w, http.StatusOK, res)
}

// refresh refreshes, once each, the Applications rcv selects that push concerns. Suspended or
// deleting ones refuse the refresh (409): skipped, not failed.
func (s *Server) refresh(ctx context.Context, rcv *gitopsv1alpha1.Receiver, push Push) (result, error) {
	selector, err := metav1.LabelSelectorAsSelector(rcv.Spec.Selector)
	if err != nil || rcv.Spec.Selector == nil {
		return result{}, fmt.Errorf("the Receiver's spec.selector selects nothing: %v", err)
	}
	apps, err := s.cfg.Applications(ctx, rcv.Namespace, selector)
	if err != nil {
		return result{}, fmt.Errorf("listing Applications of %s: %w", rcv.Namespace, err)
	}
	ref := "a ref"
	if len(push.Refs) > 0 {
		ref = push.Refs[0]
	}
	reason := truncate(fmt.Sprintf("push %s to %s (receiver %s/%s)", shortSHA(push.After), ref, rcv.Namespace, rcv.Name), 256)

	var (
		mu     sync.Mutex
		res    result
		errs   []error
		wg     sync.WaitGroup
		tokens = make(chan struct{}, refreshParallelism)
	)
	for _, app := range apps {
		if !Concerns(app, push) {
			continue
		}
		wg.Add(1)
		tokens <- struct{}{}
		go func(app *gitopsv1alpha1.Application) {
			defer wg.Done()
			defer func() { <-tokens }()
			err := s.cfg.Refresh(ctx, app.Namespace, app.Name, reason)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				res.Refreshed++
			case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
				res.Skipped++
			default:
				res.Failed++
				errs = append(errs, fmt.Errorf("refreshing %s: %w", app.Name, err))
			}
		}(app)
	}
	wg.Wait()
	return res, errors.Join(errs...)
}

func (s *Server) limiter(rcv *gitopsv1alpha1.Receiver) flowcontrol.RateLimiter {
	key := string(rcv.UID)
	if key == "" {
		key = rcv.Namespace + "/" + rcv.Name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limiters[key]
	if !ok {
		l = flowcontrol.NewTokenBucketRateLimiter(s.cfg.Rate, s.cfg.Burst)
		s.limiters[key] = l
	}
	return l
}

func (s *Server) warn(rcv *gitopsv1alpha1.Receiver, reason, format string, args ...any) {
	if s.cfg.Recorder != nil {
		s.cfg.Recorder.Eventf(rcv, corev1.EventTypeWarning, reason, format, args...)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "(unknown commit)"
	}
	return sha
}

// truncate bounds s to n bytes without splitting a character: the reason must stay UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}
