// Package faults is Ferry's fault suite: real etcd, kube-apiserver, kube-controller-manager,
// ferry-apiserver and Git servers on 127.0.0.1, one fault at a time, each bounded in time and
// undone by the test that made it. What each scenario promises and what it measured is in
// README.md. Run it with `make test-faults`; `make test` runs it too.
package faults

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/render/worker"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

var (
	stack *localstack.Stack
	kube  kubernetes.Interface
	ferry versioned.Interface
)

func TestMain(m *testing.M) {
	worker.RunIfAsked() // the in-process server's render workers are this binary
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		return m.Run() // every test skips
	}
	bin, remove, err := localstack.BuildFerry()
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer remove()
	// No Node: the scenarios deploy ConfigMaps, and two fewer processes leave CI more CPU.
	s, err := localstack.Start(localstack.Options{FerryBin: bin, NoNode: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		return 1
	}
	defer s.Stop()
	// Ferry on the stack's etcd rather than its embedded one, so that a test can take etcd away
	// from it (and from kube-apiserver with it).
	if err := s.RestartFerry(bin, s.FerryEtcdFlags()...); err != nil {
		fmt.Fprintln(os.Stderr, "faults: restarting ferry-apiserver on the stack's etcd:", err)
		return 1
	}
	stack = s
	cfg := s.RestConfig("admin")
	kube = kubernetes.NewForConfigOrDie(cfg)
	ferry = versioned.NewForConfigOrDie(cfg)
	code := m.Run()
	if code != 0 {
		for _, c := range []string{"ferry-apiserver", "kube-apiserver", "etcd"} {
			fmt.Fprintf(os.Stderr, "\n==== last 40 lines of %s.log ====\n%s", c, s.LogTail(c, 40))
		}
	}
	return code
}

func requireStack(t *testing.T) {
	t.Helper()
	if stack == nil {
		t.Skip("the fault suite runs real processes; skipped with -short")
	}
}

// newNamespace makes a namespace whose default ServiceAccount, which its Applications act as,
// may deploy anything (the tenancy tests are elsewhere); it goes at the end of the test.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("faults-%s-%05d", prefix, rand.IntN(100000))
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "faults-deployer-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: ns}},
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return ns
}

// configMap is one ConfigMap manifest.
func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

// createApps creates n Applications in ns, app-000 ... deploying apps/app-000 ... of repoURL
// into ns, automated with prune, looking at Git every interval; edits change each first.
func createApps(t *testing.T, ns, repoURL string, n int, interval time.Duration, edits ...func(*gitopsv1alpha1.Application)) []string {
	t.Helper()
	return createAppsIn(t, ferry, ns, repoURL, n, interval, edits...)
}

// createAppsIn is createApps through another ferry-apiserver's client.
func createAppsIn(t *testing.T, client versioned.Interface, ns, repoURL string, n int, interval time.Duration, edits ...func(*gitopsv1alpha1.Application)) []string {
	t.Helper()
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("app-%03d", i)
		app := &gitopsv1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gitopsv1alpha1.ApplicationSpec{
				Source:      gitopsv1alpha1.ApplicationSource{RepoURL: repoURL, Path: "apps/" + name, Revision: "main"},
				Destination: gitopsv1alpha1.ApplicationDestination{Namespace: ns},
				SyncPolicy: gitopsv1alpha1.SyncPolicy{
					Automated: &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true, SelfHeal: true},
					Interval:  &metav1.Duration{Duration: interval},
				},
			},
		}
		for _, edit := range edits {
			edit(app)
		}
		if _, err := client.GitopsV1alpha1().Applications(ns).Create(context.Background(), app, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
		names = append(names, name)
	}
	return names
}

// appFiles is one ConfigMap per Application path, each holding value.
func appFiles(n int, value string) map[string]string {
	files := map[string]string{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("app-%03d", i)
		files["apps/"+name+"/settings.yaml"] = configMap(name+"-settings", value)
	}
	return files
}

// waitAllSynced waits until every Application in ns is Synced at sha, and says how long it took.
func waitAllSynced(t *testing.T, ns, sha string, n int, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	eventually.Until(t, timeout, 500*time.Millisecond, fmt.Sprintf("%d Applications Synced at %.12s", n, sha), func() (bool, string) {
		list, err := ferry.GitopsV1alpha1().Applications(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		synced, last := 0, ""
		for _, a := range list.Items {
			if a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && a.Status.Sync.Revision == sha && a.Status.ObservedGeneration == a.Generation {
				synced++
			} else {
				last = fmt.Sprintf("%s: %s at %.12s, %s", a.Name, a.Status.Sync.Status, a.Status.Sync.Revision, readyMessage(&a))
			}
		}
		return synced == n && len(list.Items) == n, fmt.Sprintf("%d of %d synced; e.g. %s", synced, n, last)
	})
	return time.Since(start)
}

func readyMessage(a *gitopsv1alpha1.Application) string {
	for _, c := range a.Status.Conditions {
		if c.Type == gitopsv1alpha1.ConditionReady {
			return string(c.Status) + "/" + c.Reason + ": " + c.Message
		}
	}
	return "no Ready condition"
}

// waitLiveValues waits until every Application's ConfigMap holds value.
func waitLiveValues(t *testing.T, ns string, n int, value string, timeout time.Duration) {
	t.Helper()
	eventually.Until(t, timeout, 500*time.Millisecond, fmt.Sprintf("%d ConfigMaps holding %q", n, value), func() (bool, string) {
		list, err := kube.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		holding := 0
		for _, cm := range list.Items {
			if cm.Data["value"] == value {
				holding++
			}
		}
		return holding == n, fmt.Sprintf("%d of %d hold it", holding, n)
	})
}

// waitSomeSynced waits until at least k Applications in ns are Synced at sha.
func waitSomeSynced(t *testing.T, ns, sha string, k int) {
	t.Helper()
	eventually.Until(t, 2*time.Minute, 100*time.Millisecond, fmt.Sprintf("%d Applications Synced at %.12s", k, sha), func() (bool, string) {
		synced := countSynced(t, ns, sha)
		return synced >= k, fmt.Sprintf("%d synced", synced)
	})
}

// countSynced counts the Applications in ns Synced at sha.
func countSynced(t *testing.T, ns, sha string) int {
	t.Helper()
	list, err := ferry.GitopsV1alpha1().Applications(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	synced := 0
	for _, a := range list.Items {
		if a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && a.Status.Sync.Revision == sha {
			synced++
		}
	}
	return synced
}

// ferryHTTPS is an HTTP client trusting ferry-apiserver's serving certificate, shared by the
// tests that talk to a ferry-apiserver directly (its /metrics, a replica's /readyz).
var ferryHTTPS = sync.OnceValues(func() (*http.Client, error) {
	caPEM, err := os.ReadFile(filepath.Join(stack.Dir, "pki", "ferry-ca.crt"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}, nil
})

// metricValue reads an unlabelled metric from a Prometheus text exposition.
func metricValue(t *testing.T, exposition io.Reader, name string) (float64, bool) {
	t.Helper()
	sc := bufio.NewScanner(exposition)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return v, true
		}
	}
	return 0, false
}
