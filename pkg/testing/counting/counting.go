// Package counting serves HTTP for tests that must prove Ferry sent nothing somewhere: a server
// that counts every request it gets.
package counting

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Server is an HTTP server on loopback that counts the requests it gets.
type Server struct {
	*httptest.Server
	requests atomic.Int64
}

// NewServer serves h on addr ("127.0.0.1:0", or another loopback address such as
// "127.0.0.2:0"; the test is skipped where that cannot be listened on) until the test ends.
// A nil h answers 200 with an empty body.
func NewServer(t testing.TB, addr string, h http.HandlerFunc) *Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	s := &Server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	s.Listener.Close()
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// Requests is how many requests the server has got.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Body answers every request with body.
func Body(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, body) }
}
