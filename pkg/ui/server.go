// Package ui is the web UI of kubectl ferry ui: a server on loopback that renders Ferry's
// Applications with html/template and keeps the pages live with Server-Sent Events fed by a
// client-go watch. It calls the Kubernetes API with the clientset it is given — the caller's own
// kubeconfig — so it shows and does exactly what kubectl would let that person see and do; a
// refusal from the API is shown with the API's own message.
//
// Every asset is embedded (templates/, static/): no CDN, works offline. The live updates are a
// small hand-written script (static/app.js) rather than a library: the server renders every
// fragment, so the browser only swaps them in, which needs an EventSource and a few DOM calls.
package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"

	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the server needs.
type Config struct {
	// Client calls the API as the person using the UI.
	Client versioned.Interface
	// Kube reads Events and the Application's objects as the same person; without it the
	// Events and Tree pages say so.
	Kube kubernetes.Interface
	// Metadata reads the metadata of the Application's objects as the same person, to name the
	// Application that manages a SharedResource; without it the page does not name it.
	Metadata metadata.Interface
	// Namespace limits the UI to one namespace; empty means every namespace.
	Namespace string
	// FallbackNamespace is shown when Namespace is empty and the person may not list
	// Applications in every namespace (the kubeconfig context's namespace).
	FallbackNamespace string
	// Context names the kubeconfig context, shown in the header.
	Context string
	// Now is the clock for ages; time.Now when nil.
	Now func() time.Time
}

// Server serves the UI.
type Server struct {
	cfg     Config
	token   string
	session string
	pages   map[string]*template.Template
	static  http.Handler
	names   resourceNames
}

// New prepares a server with fresh secrets.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("ui: no client")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	token, err := newSecret()
	if err != nil {
		return nil, err
	}
	session, err := newSecret()
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, p := range []string{"list", "app", "diff", "manifests", "events", "tree", "logs"} {
		t, err := template.New(p).Funcs(funcs).Funcs(navFuncs).ParseFS(templateFS, "templates/layout.html", "templates/fragments.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing the UI's %s template: %w", p, err)
		}
		pages[p] = t
	}
	if err := parseSetPages(pages); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, token: token, session: session, pages: pages, static: http.FileServerFS(sub)}, nil
}

// Token is the secret of the URL, exchanged for the session cookie.
func (s *Server) Token() string { return s.token }

// URL is the address to open: the listener's, with the secret.
func (s *Server) URL(addr net.Addr) string {
	host := "127.0.0.1"
	port := 0
	if a, ok := addr.(*net.TCPAddr); ok {
		port = a.Port
		if a.IP.To4() == nil {
			host = "[::1]"
		}
	}
	return "http://" + host + ":" + strconv.Itoa(port) + "/?" + url.Values{tokenParam: {s.token}}.Encode()
}

// Handler is the UI with its guard, for a listener on port.
func (s *Server) Handler(port int) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", s.static))
	mux.HandleFunc("GET /{$}", s.handleList)
	mux.HandleFunc("GET /applications/{namespace}/{name}", s.handleApp)
	mux.HandleFunc("GET /applications/{namespace}/{name}/diff", s.handleDiff)
	mux.HandleFunc("GET /applications/{namespace}/{name}/manifests", s.handleManifests)
	mux.HandleFunc("GET /applications/{namespace}/{name}/events", s.handleAppEvents)
	mux.HandleFunc("GET /applications/{namespace}/{name}/tree", s.handleTree)
	mux.HandleFunc("GET /applications/{namespace}/{name}/logs", s.handleLogs)
	mux.HandleFunc("GET /applications/{namespace}/{name}/logs/stream", s.handleLogStream)
	mux.HandleFunc("POST /applications/{namespace}/{name}/sync", s.handleSync)
	mux.HandleFunc("GET /events", s.handleEvents)
	s.setRoutes(mux)
	return &guard{hosts: allowedHosts(port), cookie: cookiePrefix + strconv.Itoa(port), token: s.token, session: s.session, next: mux}
}

// Serve serves the UI on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	port := 0
	if a, ok := l.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	srv := &http.Server{
		Handler:           s.Handler(port),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		_ = srv.Close() // event streams do not end by themselves
	}()
	klog.V(2).InfoS("serving the web UI", "address", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the web UI: %w", err)
	}
	return nil
}
