// Package gittest serves real Git repositories over smart HTTP on 127.0.0.1 for tests and
// benchmarks: the machine's git http-backend behind net/http/cgi, with optional basic
// authentication, a switch to take the server down and bring it back, and a request log.
package gittest

import (
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// T is what the server needs from its caller: a testing.TB in tests, a *Program elsewhere.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

var _ T = testing.TB(nil)

// Program is a T for programs such as the benchmark driver: failures panic with the message,
// temporary directories live under Dir, and Close runs the cleanups.
type Program struct {
	Dir string

	mu       sync.Mutex
	n        int
	cleanups []func()
}

// Helper does nothing: a panic's stack already shows the caller.
func (p *Program) Helper() {}

// Fatal panics with the message.
func (p *Program) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// Fatalf panics with the message.
func (p *Program) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// TempDir creates a new directory under Dir.
func (p *Program) TempDir() string {
	p.mu.Lock()
	p.n++
	dir := filepath.Join(p.Dir, fmt.Sprintf("%03d", p.n))
	p.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.Fatal(err)
	}
	return dir
}

// Cleanup registers f to run on Close.
func (p *Program) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

// Close runs the cleanups, last registered first.
func (p *Program) Close() {
	p.mu.Lock()
	cleanups := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}

// Server is a smart-HTTP Git server on 127.0.0.1.
type Server struct {
	t        T
	root     string
	listener net.Listener
	server   *http.Server
	url      string

	mu       sync.Mutex
	username string
	password string
	down     atomic.Bool
	delay    atomic.Int64
	// abandoned counts the requests whose client went away while the server delayed them.
	abandoned atomic.Int64
	requests  []string
	// flaky, when set, fails or stalls a share of requests at random (SetFlaky).
	flaky *flakiness
}

// flakiness is a Git server that fails part of the time, as a real one under load does.
type flakiness struct {
	percent int
	stall   time.Duration
	rand    *rand.Rand
	// Failed and Stalled count what it did.
	failed, stalled int
}

// NewServer starts a server whose repositories live in a temporary directory.
func NewServer(t T) *Server {
	t.Helper()
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git is needed for Git tests: %v", err)
	}
	backendPath := filepath.Join(strings.TrimSpace(string(backend)), "git-http-backend")
	s := &Server{t: t, root: t.TempDir()}
	cgiHandler := &cgi.Handler{
		Path: backendPath,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + s.root,
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.listener = l
	s.url = "http://" + l.Addr().String()
	s.server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
		user, pass := s.username, s.password
		s.mu.Unlock()
		if d := time.Duration(s.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				s.abandoned.Add(1)
				return
			}
		}
		if s.down.Load() {
			http.Error(w, "git server is down for this test", http.StatusServiceUnavailable)
			return
		}
		if fail, stall := s.flake(); fail {
			http.Error(w, "git server failed at random for this test", http.StatusBadGateway)
			return
		} else if stall > 0 {
			select {
			case <-time.After(stall):
			case <-r.Context().Done():
				return
			}
		}
		if user != "" {
			u, p, ok := r.BasicAuth()
			if !ok {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
			if u != user || p != pass {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
		}
		cgiHandler.ServeHTTP(w, r)
	})}
	go func() { _ = s.server.Serve(l) }()
	t.Cleanup(func() { _ = s.server.Close() })
	return s
}

// URL is the base URL; a repository named "x" is at URL()+"/x.git".
func (s *Server) URL() string { return s.url }

// RequireBasicAuth makes every request need these credentials.
func (s *Server) RequireBasicAuth(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.username, s.password = username, password
}

// SetDelay makes the server wait d before answering each request (0 to stop), to keep a
// client busy in the middle of a fetch.
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Abandoned is how many requests their client gave up on (closed the connection) while the
// server delayed them (SetDelay): work a client stopped.
func (s *Server) Abandoned() int { return int(s.abandoned.Load()) }

// SetFlaky makes percent of the requests fail (502) or stall for stall before being answered,
// at random from seed, half of each; 0 stops it. It returns a function that reports how many
// requests failed and stalled so far.
func (s *Server) SetFlaky(percent int, stall time.Duration, seed int64) func() (failed, stalled int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if percent <= 0 {
		s.flaky = nil
		return func() (int, int) { return 0, 0 }
	}
	f := &flakiness{percent: percent, stall: stall, rand: rand.New(rand.NewSource(seed))}
	s.flaky = f
	return func() (int, int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return f.failed, f.stalled
	}
}

// flake decides the fate of one request: fail it, stall it for a while, or neither.
func (s *Server) flake() (fail bool, stall time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flaky
	if f == nil || f.rand.Intn(100) >= f.percent {
		return false, 0
	}
	if f.rand.Intn(2) == 0 {
		f.failed++
		return true, 0
	}
	f.stalled++
	return false, time.Duration(f.rand.Int63n(int64(f.stall) + 1))
}

// SetDown makes the server answer 503 to everything while down is true.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// Requests returns the requests served so far, as "METHOD /path?query".
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// CountRequests counts served requests whose line contains substr, such as "git-upload-pack"
// for fetches with POST.
func (s *Server) CountRequests(substr string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// Repo is a bare repository served by a Server, with a work tree to commit from.
type Repo struct {
	t    T
	s    *Server
	name string
	bare string
	work string
}

// NewRepo creates an empty bare repository name.git with default branch main.
func (s *Server) NewRepo(name string) *Repo {
	s.t.Helper()
	r := &Repo{t: s.t, s: s, name: name, bare: filepath.Join(s.root, name+".git"), work: filepath.Join(s.t.TempDir(), name)}
	r.git(s.root, "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	r.git(r.bare, "config", "http.receivepack", "true")
	r.git("", "init", "--quiet", "--initial-branch=main", r.work)
	r.git(r.work, "remote", "add", "origin", r.bare)
	return r
}

// URL is the repository's clone URL.
func (r *Repo) URL() string { return r.s.url + "/" + r.name + ".git" }

// BareDir is the bare repository on disk, for file:// tests.
func (r *Repo) BareDir() string { return r.bare }

// Commit writes files (path -> content; an empty content deletes the file), commits them on
// branch and pushes. It returns the new commit's SHA.
func (r *Repo) Commit(branch string, files map[string]string, message string) string {
	r.t.Helper()
	if out := r.gitOut(r.work, "branch", "--list", branch); strings.TrimSpace(out) == "" {
		if strings.TrimSpace(r.gitOut(r.work, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")) != "" {
			r.git(r.work, "checkout", "--quiet", "-b", branch)
		} else {
			r.git(r.work, "checkout", "--quiet", "--orphan", branch)
		}
	} else {
		r.git(r.work, "checkout", "--quiet", branch)
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(r.work, filepath.FromSlash(p))
		if files[p] == "" {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(r.work, "add", "--all")
	r.git(r.work, "commit", "--quiet", "--allow-empty", "-m", message)
	r.git(r.work, "push", "--quiet", "--force", "origin", branch)
	return strings.TrimSpace(r.gitOut(r.work, "rev-parse", "HEAD"))
}

// Symlink commits a symbolic link at path pointing at target.
func (r *Repo) Symlink(branch, path, target string) string {
	r.t.Helper()
	r.git(r.work, "checkout", "--quiet", branch)
	full := filepath.Join(r.work, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		r.t.Fatal(err)
	}
	r.git(r.work, "add", "--all")
	r.git(r.work, "commit", "--quiet", "-m", "link "+path)
	r.git(r.work, "push", "--quiet", "origin", branch)
	return strings.TrimSpace(r.gitOut(r.work, "rev-parse", "HEAD"))
}

// PullRequest commits files on a branch of its own, publishes that commit as
// refs/pull/<number>/head, as a forge publishes a pull request's head, and deletes the branch:
// the commit is then reachable from no branch or tag of the repository. It returns the SHA.
func (r *Repo) PullRequest(number int, base string, files map[string]string) string {
	r.t.Helper()
	branch := fmt.Sprintf("ferry-test-pr-%d", number)
	r.git(r.work, "checkout", "--quiet", base)
	r.git(r.work, "checkout", "--quiet", "-b", branch)
	sha := r.Commit(branch, files, fmt.Sprintf("pull request %d", number))
	r.git(r.work, "push", "--quiet", "origin", fmt.Sprintf("%s:refs/pull/%d/head", sha, number))
	r.git(r.work, "push", "--quiet", "origin", "--delete", branch)
	r.git(r.work, "checkout", "--quiet", base)
	r.git(r.work, "branch", "--quiet", "-D", branch)
	return sha
}

// Tag creates a tag at the branch's head; annotated when message is not empty.
func (r *Repo) Tag(branch, tag, message string) {
	r.t.Helper()
	args := []string{"tag", tag, branch}
	if message != "" {
		args = []string{"tag", "-a", "-m", message, tag, branch}
	}
	r.git(r.work, args...)
	r.git(r.work, "push", "--quiet", "origin", "refs/tags/"+tag)
}

func (r *Repo) git(dir string, args ...string) {
	r.t.Helper()
	r.gitOut(dir, args...)
}

func (r *Repo) gitOut(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Ferry Test", "GIT_AUTHOR_EMAIL=test@ferry.invalid",
		"GIT_COMMITTER_NAME=Ferry Test", "GIT_COMMITTER_EMAIL=test@ferry.invalid",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		// rev-parse --verify --quiet fails on an empty repository by design.
		if len(args) > 0 && args[0] == "rev-parse" {
			return ""
		}
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// String describes the repository in test failures.
func (r *Repo) String() string { return fmt.Sprintf("repo %s at %s", r.name, r.URL()) }
