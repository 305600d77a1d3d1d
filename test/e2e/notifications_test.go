package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// sink records every request on 127.0.0.1; paths under /fail answer 500.
type sink struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []sinkRequest
}

type sinkRequest struct {
	Path, Auth string
	Body       []byte
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body [64 << 10]byte
		n, _ := r.Body.Read(body[:])
		s.mu.Lock()
		s.reqs = append(s.reqs, sinkRequest{Path: r.URL.EscapedPath(), Auth: r.Header.Get("Authorization"), Body: append([]byte(nil), body[:n]...)})
		s.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/fail") {
			http.Error(w, "sink down", http.StatusInternalServerError)
		}
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// count is how many requests under prefix had a body holding every one of has.
func (s *sink) count(prefix string, has ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.reqs {
		if !strings.HasPrefix(r.Path, prefix) {
			continue
		}
		ok := true
		for _, h := range has {
			ok = ok && (strings.Contains(string(r.Body), h) || strings.Contains(r.Path, h))
		}
		if ok {
			n++
		}
	}
	return n
}

func (s *sink) dump(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, r := range s.reqs {
		if strings.HasPrefix(r.Path, prefix) {
			fmt.Fprintf(&b, "%s %s\n", r.Path, r.Body)
		}
	}
	return b.String()
}

func providerYAML(ns, name, typ, address string) string {
	return fmt.Sprintf("apiVersion: gitops.ferry.dev/v1alpha1\nkind: AlertProvider\nmetadata: {name: %s, namespace: %s}\nspec: {type: %s, address: %q}\n", name, ns, typ, address)
}

func alertYAML(ns, name, provider string, triggers ...string) string {
	return fmt.Sprintf("apiVersion: gitops.ferry.dev/v1alpha1\nkind: Alert\nmetadata: {name: %s, namespace: %s}\nspec:\n  providerRef: {name: %s}\n  selector: {}\n  triggers: [%s]\n",
		name, ns, provider, strings.Join(triggers, ", "))
}

// TestNotificationsFireOncePerTriggerAndRevision: a sink on 127.0.0.1 hears, in each provider's
// request shape, exactly one alert per trigger and revision as an Application fails to sync a
// bad manifest, syncs the fix, and drifts by a hand edit; a failing sink is retried and the
// Alert's Delivered condition says why; a loopback address the flag does not list is refused
// when written, naming spec.address.
func TestNotificationsFireOncePerTriggerAndRevision(t *testing.T) {
	requireStack(t)
	s := newSink(t)
	ns := newNamespace(t, "notify")
	dest := newNamespace(t, "notify-dest")

	r := kubectlFails(t, Admin, providerYAML(ns, "elsewhere", "generic", "http://127.0.0.2:9/hook"), "apply", "-f", "-")
	if !strings.Contains(r.Stderr, "spec.address") || !strings.Contains(r.Stderr, "--notification-allowed-cidrs") {
		t.Errorf("a loopback address the flag does not list: %s", r)
	}

	triggers := []string{"SyncFailed", "SyncSucceeded", "Drifted"}
	subscribed := append(append([]string{}, triggers...), "HealthDegraded")
	for _, p := range []struct{ name, typ, path string }{
		{"generic", "generic", "/generic"}, {"slack", "slack", "/slack"}, {"github", "github", "/github"},
		{"alertmanager", "alertmanager", "/am"}, {"down", "generic", "/fail"},
	} {
		kubectlStdin(t, Admin, providerYAML(ns, p.name, p.typ, s.URL+p.path), "apply", "-f", "-")
		kubectlStdin(t, Admin, alertYAML(ns, p.name, p.name, subscribed...), "apply", "-f", "-")
	}
	ferry := ferryClient(t, Admin)
	eventually(t, syncTimeout, "every Alert Ready", func() (bool, string) {
		list, err := ferry.GitopsV1alpha1().Alerts(ns).List(ctxFor(t), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, a := range list.Items {
			if !meta.IsStatusConditionTrue(a.Status.Conditions, gitopsv1alpha1.AlertConditionReady) {
				return false, a.Name + " not Ready"
			}
		}
		return len(list.Items) == 5, fmt.Sprint(len(list.Items), " Alerts")
	})

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("acme/deploy")
	bad := repo.Commit("main", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [not a name\n"}, "bad")
	// Without selfHeal, so that a hand edit stays and the Application reports drift.
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", dest, map[string]any{"syncPolicy.automated": map[string]any{"prune": true}}), "apply", "-f", "-")
	eventually(t, syncTimeout, "SyncFailed at the bad commit in every shape", func() (bool, string) {
		return s.count("/generic", `"trigger":"SyncFailed"`, bad) == 1 && s.count("/slack", `"text":`, "SyncFailed") == 1 &&
			s.count("/github/repos/acme/deploy/statuses/"+bad, `"state":"failure"`, `"context":"ferry/`+ns+`/web"`) == 1 &&
			s.count("/am/api/v2/alerts", `"alertname":"FerrySyncFailed"`, `"application":"web"`) == 1, s.dump("/")
	})

	good := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("settings", "v1")}, "fix")
	eventually(t, syncTimeout, "SyncSucceeded at the fix in every shape", func() (bool, string) {
		return s.count("/generic", `"trigger":"SyncSucceeded"`, good) == 1 && s.count("/slack", "SyncSucceeded") == 1 &&
			s.count("/github/repos/acme/deploy/statuses/"+good, `"state":"success"`) == 1 &&
			s.count("/am/api/v2/alerts", `"alertname":"FerrySyncSucceeded"`) == 1, s.dump("/")
	})

	kubectl(t, "patch", "configmap", "settings", "-n", dest, "--type=merge", "-p", `{"data":{"value":"by-hand"}}`)
	eventually(t, syncTimeout, "Drifted in the generic, slack and alertmanager shapes", func() (bool, string) {
		return s.count("/generic", `"trigger":"Drifted"`, good) == 1 && s.count("/slack", "Drifted") == 1 &&
			s.count("/am/api/v2/alerts", `"alertname":"FerryDrifted"`, `"severity":"warning"`) == 1, s.dump("/")
	})
	// Several more reconciles at the interval (10s) later, nothing was sent twice.
	eventually(t, syncTimeout, "three more checks of Git", func() (bool, string) {
		n := srv.CountRequests("info/refs")
		return n >= 6, fmt.Sprint(n, " listings")
	})
	for _, trig := range triggers {
		if n := s.count("/generic", `"trigger":"`+trig+`"`); n != 1 {
			t.Errorf("%s was sent %d times to the generic sink:\n%s", trig, n, s.dump("/generic"))
		}
	}
	if n := s.count("/github"); n != 2 {
		t.Errorf("%d commit statuses, want failure and success (Drifted is no commit status):\n%s", n, s.dump("/github"))
	}

	// The failing sink: each alert tried 4 times, and the Alert says so without the body.
	eventually(t, syncTimeout, "the failing Alert's Delivered condition", func() (bool, string) {
		a, err := ferry.GitopsV1alpha1().Alerts(ns).Get(ctxFor(t), "down", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(a.Status.Conditions, gitopsv1alpha1.AlertConditionDelivered)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == gitopsv1alpha1.ReasonDeliveryFailed &&
			strings.Contains(c.Message, "4 attempts") && strings.Contains(c.Message, "500") && !strings.Contains(c.Message, "sink down"), fmt.Sprintf("%+v", c)
	})
	if n := s.count("/fail", `"trigger":"SyncFailed"`); n != 4 {
		t.Errorf("the failing sink got SyncFailed %d times, want 4 attempts", n)
	}
	// Every alert is an Event on the Application too (recorded asynchronously).
	eventually(t, syncTimeout, "AlertSent and AlertFailed Events on the Application", func() (bool, string) {
		out := kubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=web", "-o", "jsonpath={.items[*].reason}")
		return strings.Contains(out, "AlertSent") && strings.Contains(out, "AlertFailed"), out
	})

	// A commit whose migration Job fails: the Application turns Degraded, which is told once.
	degraded := repo.Commit("main", map[string]string{"app/migrate.yaml": failingJobYAML("notify-migrate")}, "a failing migration")
	eventually(t, syncTimeout, "HealthDegraded in the generic, slack and alertmanager shapes", func() (bool, string) {
		return s.count("/generic", `"trigger":"HealthDegraded"`, degraded) == 1 && s.count("/slack", "HealthDegraded") == 1 &&
			s.count("/am/api/v2/alerts", `"alertname":"FerryHealthDegraded"`, `"application":"web"`) == 1, s.dump("/")
	})
	listed := srv.CountRequests("info/refs")
	eventually(t, syncTimeout, "three more checks of Git while Degraded", func() (bool, string) {
		n := srv.CountRequests("info/refs")
		return n >= listed+3, fmt.Sprint(n-listed, " more listings")
	})
	if n := s.count("/generic", `"trigger":"HealthDegraded"`); n != 1 {
		t.Errorf("HealthDegraded was sent %d times to the generic sink:\n%s", n, s.dump("/generic"))
	}
}

// TestNotificationsNeedTheWriterToReadTheProviderAndTheApplications: through kube-apiserver, with
// token users. A user who may create Alerts but neither get AlertProviders nor list
// Applications is refused with a 403 naming spec.providerRef.name and spec.selector, and nothing
// is stored; a user holding ferry-edit, which grants both, creates the same Alert.
func TestNotificationsNeedTheWriterToReadTheProviderAndTheApplications(t *testing.T) {
	s := requireStack(t)
	sink := newSink(t)
	ns := newTenantNamespace(t, "notify-rights")
	kubectlStdin(t, Admin, providerYAML(ns, "slack", "slack", sink.URL+"/slack"), "apply", "-f", "-")
	kubectl(t, "create", "role", "alert-writer", "--verb=create,get", "--resource=alerts.gitops.ferry.dev", "-n", ns)
	kubectl(t, "create", "rolebinding", "other", "--role=alert-writer", "--user=other", "-n", ns)
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=ferry-edit", "--user=editor", "-n", ns)
	for _, u := range []string{"editor", "other"} {
		eventually(t, 60*time.Second, u+" may create alerts", func() (bool, string) {
			r := s.Run(Admin, "", "auth", "can-i", "create", "alerts.gitops.ferry.dev", "-n", ns, "--as="+u)
			return strings.TrimSpace(r.Stdout) == "yes", r.String()
		})
	}

	alert := alertYAML(ns, "ops", "slack", "SyncFailed")
	r := kubectlFails(t, "other", alert, "create", "-f", "-")
	for _, want := range []string{
		`spec.providerRef.name: Forbidden: user "other" may not get alertprovider ` + ns + `/slack`,
		`spec.selector: Forbidden: user "other" may not list applications in namespace ` + ns,
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("a user who may only create Alerts: want 403 saying %q, got %s", want, r)
		}
	}
	if r := s.Run(Admin, "", "get", "alert.gitops.ferry.dev", "ops", "-n", ns); r.Err == nil || !strings.Contains(r.Stderr, "NotFound") {
		t.Errorf("a refused Alert was stored: %s", r)
	}
	kubectlStdin(t, "editor", alert, "create", "-f", "-")
}
