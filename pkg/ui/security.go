package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The UI acts with the credentials of the person who started it, so anything that can reach its
// port could act as them. It defends itself as a local tool must:
//
//   - it listens on loopback only (Listen refuses any other address);
//   - a random secret in the printed URL is exchanged, once, for an HttpOnly, SameSite=Strict
//     cookie holding a second secret; every other request needs that cookie (401 otherwise);
//   - the Host header must name the loopback address and port it listens on, so a page on a
//     hostile domain that re-resolves to 127.0.0.1 (DNS rebinding) is refused (403);
//   - no CORS header is ever sent, and a state-changing request (POST) also needs the custom
//     header X-Ferry-UI, which a cross-site form cannot set and a cross-site script may not send
//     without a CORS preflight we never answer, and an Origin, when the browser names one, of
//     the UI itself (403 otherwise);
//   - secrets are compared in constant time; every response carries headers that forbid framing,
//     sniffing, referrers and any script, style or connection not served by the UI itself.

const (
	// tokenParam is the query parameter carrying the URL secret.
	tokenParam = "token"
	// cookiePrefix names the cookie holding the session secret; the port follows, because
	// browsers do not keep cookies apart by port and two UIs may run at once.
	cookiePrefix = "ferry_ui_"
	// CSRFHeader must be sent, with value "1", on every POST.
	CSRFHeader = "X-Ferry-UI"
	// secretBytes is the entropy of each secret.
	secretBytes = 32
)

// newSecret returns 32 random bytes in unpadded base64url.
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes for the UI's secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// LoopbackIP parses --address: an IP address on loopback, or "localhost" (127.0.0.1).
func LoopbackIP(address string) (net.IP, error) {
	if address == "localhost" {
		return net.IPv4(127, 0, 0, 1), nil
	}
	ip := net.ParseIP(address)
	if ip == nil {
		return nil, fmt.Errorf("--address %q: not an IP address; the UI listens on loopback only (127.0.0.1 or ::1)", address)
	}
	if !ip.IsLoopback() {
		return nil, fmt.Errorf("--address %s: not a loopback address; the UI acts with your credentials, so it listens on loopback only (127.0.0.1 or ::1)", address)
	}
	return ip, nil
}

// Listen opens the UI's listener on address (loopback only) and port (0 picks a free one).
func Listen(address string, port int) (net.Listener, error) {
	ip, err := LoopbackIP(address)
	if err != nil {
		return nil, err
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("--port %d: want 0 (any free port) to 65535", port)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listening on %s port %d: %w", ip, port, err)
	}
	return l, nil
}

// allowedHosts are the Host headers a browser sends for the UI on port: its loopback names.
func allowedHosts(port int) map[string]bool {
	p := strconv.Itoa(port)
	return map[string]bool{
		"127.0.0.1:" + p: true,
		"localhost:" + p: true,
		"[::1]:" + p:     true,
	}
}

// setSecurityHeaders forbids framing, sniffing, referrers and anything not served by the UI.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// guard wraps next with the checks above.
type guard struct {
	hosts   map[string]bool
	cookie  string // the session cookie's name
	token   string // the URL secret
	session string // the cookie secret
	next    http.Handler
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if !g.hosts[r.Host] {
		// DNS rebinding: the browser believes it talks to another site.
		http.Error(w, "misdirected request: the Ferry UI answers only to 127.0.0.1, localhost or [::1] on its own port", http.StatusForbidden)
		return
	}
	if tok := r.URL.Query().Get(tokenParam); tok != "" {
		if !equal(tok, g.token) {
			http.Error(w, "unauthorized: the secret in the URL is wrong; use the URL kubectl ferry ui printed", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet {
			http.Error(w, "the secret is exchanged on GET only", http.StatusMethodNotAllowed)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name:     g.cookie,
			Value:    g.session,
			Path:     "/",
			HttpOnly: true,
			SameSite: http.SameSiteStrictMode,
		})
		// The secret leaves the address bar and the history.
		clean := *r.URL
		q := clean.Query()
		q.Del(tokenParam)
		clean.RawQuery = q.Encode()
		clean.Scheme, clean.Host = "", ""
		http.Redirect(w, r, (&url.URL{Path: clean.Path, RawQuery: clean.RawQuery}).String(), http.StatusSeeOther)
		return
	}
	c, err := r.Cookie(g.cookie)
	if err != nil || !equal(c.Value, g.session) {
		http.Error(w, "unauthorized: open the URL kubectl ferry ui printed (it carries a secret)", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if r.Header.Get(CSRFHeader) != "1" {
			http.Error(w, "forbidden: a state-changing request needs the header "+CSRFHeader+": 1", http.StatusForbidden)
			return
		}
		// Browsers name the page that sent a POST; it must be the UI itself.
		if o := r.Header.Get("Origin"); o != "" && !g.hosts[strings.TrimPrefix(o, "http://")] {
			http.Error(w, "forbidden: a state-changing request from another origin", http.StatusForbidden)
			return
		}
	}
	g.next.ServeHTTP(w, r)
}
