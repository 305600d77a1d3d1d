package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// peakRSS is a process's highest resident set so far, in bytes (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// billionLaughs is seven levels of nine aliases each: a few hundred bytes that kustomize would
// copy into 9^7 nodes (tens of GiB).
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: laughs\n  annotations:\n")
	b.WriteString(`    l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i < 7; i++ {
		p := fmt.Sprintf("*l%d", i-1)
		fmt.Fprintf(&b, "    l%d: &l%d [%s]\n", i, i, strings.Join([]string{p, p, p, p, p, p, p, p, p}, ","))
	}
	return b.String()
}

// TestAliasBombFailsItsApplicationAlone: a repository holding a "billion laughs" document fails
// its own Application with a condition that says why, while the server's memory stays bounded,
// its API answers, and another Application's kustomization syncs.
func TestAliasBombFailsItsApplicationAlone(t *testing.T) {
	s := requireStack(t)
	pid, err := s.Pid("ferry-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("laughs")
	repo.Commit("main", map[string]string{
		"bomb/kustomization.yaml": "resources: [laughs.yaml]\n",
		"bomb/laughs.yaml":        billionLaughs(),
		"ok/kustomization.yaml":   "namePrefix: ok-\nresources: [svc.yaml]\n",
		"ok/svc.yaml":             "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n",
	}, "a bomb beside a good app")
	ns := newNamespace(t, "laughs")
	kubectlStdin(t, Admin, gitApp(ns, "bomb", repo, "bomb", ns, nil), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "ok", repo, "ok", ns, nil), "apply", "-f", "-")

	waitApp(t, ns, "bomb", "RenderFailed naming the aliases", func(a *gitopsv1alpha1.Application) bool {
		c := condition(a, "Ready")
		return strings.HasPrefix(c, "False/RenderFailed") && strings.Contains(c, "bomb/laughs.yaml") && strings.Contains(c, "YAML aliases expand")
	})
	waitApp(t, ns, "ok", "the other Application Synced", synced)
	if got := kubectl(t, "get", "service", "ok-web", "-n", ns, "-o", "jsonpath={.spec.ports[0].port}"); got != "80" {
		t.Errorf("the other Application's Service: port %q", got)
	}
	if now, err := s.Pid("ferry-apiserver"); err != nil || now != pid || !pidAlive(pid) {
		t.Fatalf("ferry-apiserver was pid %d, now %d (%v): it restarted", pid, now, err)
	}
	// The server's peak memory over its whole life so far, this render included.
	const bound = 1 << 30
	if peak := peakRSS(t, pid); peak > bound {
		t.Errorf("ferry-apiserver's peak RSS is %d MiB, over the %d MiB bound", peak>>20, bound>>20)
	}
}

// TestSecretValuesNeverReachMessages: a malformed secretGenerator literal (kustomize quotes it
// in its error) and a Secret the API server refuses (it quotes the invalid value) fail their
// Applications; their values appear in no condition, Event, response or log line, and a value
// starting with '*' is masked in /manifests like any other.
func TestSecretValuesNeverReachMessages(t *testing.T) {
	s := requireStack(t)
	const literalMarker = "literal-marker-5e1f"
	const refusedMarker = "refused-marker-9c2d"
	const starMarker = "*star-marker-77b0"
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("secrets")
	repo.Commit("main", map[string]string{
		"literal/kustomization.yaml": "secretGenerator:\n- name: db\n  literals:\n  - \"password: " + literalMarker + "\"\n",
		// A dockerconfigjson that is not JSON: the API server's refusal quotes it.
		"refused/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: pull}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: \"" + refusedMarker + "\"\n",
		"star/secret.yaml":    "apiVersion: v1\nkind: Secret\nmetadata: {name: star}\nstringData:\n  token: \"" + starMarker + "\"\n",
	}, "secrets, two of them broken")
	ns := newNamespace(t, "secrets")
	for _, name := range []string{"literal", "refused"} {
		kubectlStdin(t, Admin, gitApp(ns, name, repo, name, ns, nil), "apply", "-f", "-")
	}
	kubectlStdin(t, Admin, gitApp(ns, "star", repo, "star", ns, map[string]any{"syncPolicy.automated": nil}), "apply", "-f", "-")

	waitApp(t, ns, "literal", "RenderFailed", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/RenderFailed") && strings.Contains(condition(a, "Ready"), "<masked>")
	})
	waitApp(t, ns, "refused", "ApplyFailed", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/ApplyFailed")
	})
	base := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/"
	var seen []string
	seen = append(seen, kubectl(t, "get", "applications", "-n", ns, "-o", "yaml"))
	seen = append(seen, kubectl(t, "get", "events", "-n", ns, "-o", "yaml"))
	for _, sub := range []string{"literal/manifests", "literal/diff", "refused/diff", "refused/manifests", "star/manifests", "star/diff"} {
		r := s.Run(Admin, "", "get", "--raw", base+sub)
		seen = append(seen, r.Stdout, r.Stderr)
	}
	seen = append(seen, s.LogTail("ferry-apiserver", 1_000_000))
	for _, marker := range []string{literalMarker, refusedMarker, strings.TrimPrefix(starMarker, "*")} {
		for _, text := range seen {
			if i := strings.Index(text, marker); i >= 0 {
				t.Errorf("%q appears: ...%s...", marker, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
}

// TestTheGitCacheShrinksWhenApplicationsGo: once no Application names a repository, its copy
// leaves ferry-apiserver's Git cache after the grace period (3s for this stack, --git-cache-
// unused-grace-period), and the cache takes less room.
func TestTheGitCacheShrinksWhenApplicationsGo(t *testing.T) {
	s := requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("collected")
	var files = map[string]string{}
	for i := 0; i < 20; i++ {
		files[fmt.Sprintf("app/cm-%02d.yaml", i)] = configMapYAML(fmt.Sprintf("collected-%02d", i), strings.Repeat("v", 10<<10))
	}
	repo.Commit("main", files, "twenty ConfigMaps")
	ns := newNamespace(t, "collected")
	kubectlStdin(t, Admin, gitApp(ns, "c", repo, "app", ns, nil), "apply", "-f", "-")
	waitApp(t, ns, "c", "Synced", synced)

	sum := sha256.Sum256([]byte(repo.URL()))
	cacheDir := filepath.Join(s.Dir, "ferry-data", "git")
	repoDir := filepath.Join(cacheDir, hex.EncodeToString(sum[:16]))
	if _, err := os.Stat(repoDir); err != nil {
		t.Fatalf("the synced repository is not in the cache at %s: %v", repoDir, err)
	}
	before := dirBytes(t, cacheDir)

	kubectl(t, "delete", "application", "c", "-n", ns, "--wait=true")
	eventually(t, 60*time.Second, "the repository to leave the Git cache", func() (bool, string) {
		_, err := os.Stat(repoDir)
		return os.IsNotExist(err), fmt.Sprintf("%s: %v", repoDir, err)
	})
	if after := dirBytes(t, cacheDir); after >= before {
		t.Errorf("the Git cache holds %d bytes, %d before the Application went", after, before)
	}
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var size int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	return size
}

// TestARepositoryOverTheSizeLimitLeavesNothing: a repository larger than
// --git-max-repository-size (8Mi for this stack) fails its Application with a condition naming
// the limit, and nothing of it stays in the Git cache.
func TestARepositoryOverTheSizeLimitLeavesNothing(t *testing.T) {
	s := requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("oversized")
	noise := make([]byte, 12<<20)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("big", "v1"), "data/noise.bin": string(noise)}, "12 MiB of noise")
	ns := newNamespace(t, "oversized")
	kubectlStdin(t, Admin, gitApp(ns, "big", repo, "app", ns, nil), "apply", "-f", "-")
	waitApp(t, ns, "big", "GitFailed naming the size limit", func(a *gitopsv1alpha1.Application) bool {
		c := condition(a, "Ready")
		return strings.HasPrefix(c, "False/"+gitopsv1alpha1.ReasonGitFailed) && strings.Contains(c, "larger than the cache allows one repository (8 MiB")
	})
	sum := sha256.Sum256([]byte(repo.URL()))
	repoDir := filepath.Join(s.Dir, "ferry-data", "git", hex.EncodeToString(sum[:16]))
	if size := dirBytes(t, repoDir); size != 0 {
		t.Errorf("the refused repository left %d bytes in the Git cache at %s", size, repoDir)
	}
}

// TestRemoteWordsNeverReachMessages: repoURLs pointing at an HTTP service that is not a Git
// server (its error pages carry a marker), and at one answering with an ERR line of the Git
// protocol: the Applications fail in Ferry's words, and the marker appears in no status, Event,
// response or log line.
func TestRemoteWordsNeverReachMessages(t *testing.T) {
	s := requireStack(t)
	const marker = "remote-marker-0d7a"
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/errline/") {
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			line := "ERR " + marker + "\n"
			_, _ = fmt.Fprintf(w, "%04x%s", len(line)+4, line)
			return
		}
		// /<status>/repo.git answers that status with a page.
		code, err := strconv.Atoi(strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0])
		if err != nil {
			code = http.StatusTeapot
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(strings.Repeat(marker+" ", 500)))
	}))
	defer service.Close()
	ns := newNamespace(t, "remote-words")
	apps := map[string]string{"errline": service.URL + "/errline/repo.git"}
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusInternalServerError} {
		apps[fmt.Sprintf("page-%d", code)] = fmt.Sprintf("%s/%d/repo.git", service.URL, code)
	}
	for name, url := range apps {
		kubectlStdin(t, Admin, appManifest(ns, name, map[string]any{"source.repoURL": url, "source.path": "app", "destination.namespace": ns}), "apply", "-f", "-")
	}
	for name := range apps {
		waitApp(t, ns, name, "a Git failure", func(a *gitopsv1alpha1.Application) bool {
			c := condition(a, "Ready")
			return strings.HasPrefix(c, "False/"+gitopsv1alpha1.ReasonGitFailed) || strings.HasPrefix(c, "False/"+gitopsv1alpha1.ReasonCredentialsError)
		})
	}
	base := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/"
	seen := []string{
		kubectl(t, "get", "applications", "-n", ns, "-o", "yaml"),
		kubectl(t, "get", "events", "-n", ns, "-o", "yaml"),
	}
	for name := range apps {
		for _, sub := range []string{"/manifests", "/diff?revision=main"} {
			r := s.Run(Admin, "", "get", "--raw", base+name+sub)
			seen = append(seen, r.Stdout, r.Stderr)
		}
	}
	seen = append(seen, s.LogTail("ferry-apiserver", 1_000_000))
	for _, text := range seen {
		if i := strings.Index(text, marker); i >= 0 {
			t.Errorf("the remote's words appear: ...%s...", text[max(0, i-200):min(len(text), i+100)])
		}
	}
}
