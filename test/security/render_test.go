package security

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/counting"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// internalService stands for what a tenant must not read through Ferry: cloud metadata
// credentials, another team's in-cluster service. It counts the requests it gets.
func internalService(t *testing.T, body string) (url string, requests func() int64) {
	t.Helper()
	srv := counting.NewServer(t, "127.0.0.1:0", counting.Body(body))
	return srv.URL, srv.Requests
}

// TestAttackRenderFetchesAnInternalURL is the full-read SSRF of the README's table: a tenant
// with edit in its namespace points Applications at kustomizations whose builtin generator and
// transformer configs (in a file, inline) name an internal URL, and at a chart whose
// values.schema.json refers to that URL and to a file of the server's disk. The internal service
// sees no request; each Application fails to render, and the body is nowhere: not in
// /manifests, status, Events, nor a ConfigMap of the namespace.
func TestAttackRenderFetchesAnInternalURL(t *testing.T) {
	requireStack(t)
	const secret = "AKIA-metadata-credentials"
	url, requests := internalService(t, secret)
	onDisk := filepath.Join(t.TempDir(), "node-token.json")
	must(t, os.WriteFile(onDisk, []byte(`{"const": "`+secret+`"}`), 0o644))

	repo := gittest.NewServer(t).NewRepo("ssrf")
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {replicas: \"3\"}\n"
	chart := func(ref string) map[string]string {
		return map[string]string{
			"Chart.yaml":         "apiVersion: v2\nname: web\nversion: 1.2.0\n",
			"values.yaml":        "replicas: 3\ntoken: guess\n",
			"values.schema.json": `{"type": "object", "properties": {"replicas": {"type": "integer"}, "token": {"$ref": "` + ref + `"}}}`,
			"templates/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {replicas: \"{{ .Values.replicas }}\"}\n",
		}
	}
	files := map[string]string{
		"generator-file/kustomization.yaml": "resources: [cm.yaml]\ngenerators: [gen.yaml]\n",
		"generator-file/cm.yaml":            cm,
		"generator-file/gen.yaml":           "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: creds}\nfiles:\n- creds=" + url + "/latest/meta-data/iam\n",
		"generator-inline/kustomization.yaml": "resources: [cm.yaml]\ngenerators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n" +
			"  metadata: {name: creds}\n  files:\n  - creds=" + url + "/latest/meta-data/iam\n",
		"generator-inline/cm.yaml":       cm,
		"transformer/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [patch.yaml]\n",
		"transformer/cm.yaml":            cm,
		"transformer/patch.yaml":         "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: " + url + "/patch.yaml\ntarget: {kind: ConfigMap}\n",
	}
	for name, ref := range map[string]string{"schema-http": url + "/schema.json", "schema-file": "file://" + onDisk} {
		for f, data := range chart(ref) {
			files[name+"/"+f] = data
		}
	}
	repo.Commit("main", files, "a tenant's repository")

	ns := newTenant(t, "ssrf")
	paths := []string{"generator-file", "generator-inline", "transformer", "schema-http", "schema-file"}
	for _, p := range paths {
		createApp(t, editor, newApp(ns, p, repo.URL(), p))
	}
	ctx := ctxFor(t)
	for _, p := range paths {
		app := waitForApp(t, ns, p, 2*time.Minute, "fails to render", func(a *gitopsv1alpha1.Application) bool {
			c := condition(a, "Ready")
			return c != nil && c.Reason == gitopsv1alpha1.ReasonRenderFailed
		})
		t.Logf("%s: %s", p, condition(app, "Ready").Message)
		if text := fmt.Sprintf("%+v", app.Status); strings.Contains(text, secret) {
			t.Errorf("%s: the status carries the internal service's answer: %s", p, text)
		}
		_, err := ferry(t, editor).GitopsV1alpha1().Applications(ns).GetManifests(ctx, p, metav1.GetOptions{})
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: /manifests gave %v, want a refusal without the internal service's answer", p, err)
		}
	}
	if n := requests(); n != 0 {
		t.Fatalf("the internal service got %d requests from Ferry", n)
	}
	events, err := kube(t, admin).CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	for _, e := range events.Items {
		if strings.Contains(e.Message, secret) {
			t.Errorf("an Event carries the internal service's answer: %s", e.Message)
		}
	}
	if _, err := kube(t, admin).CoreV1().ConfigMaps(ns).Get(ctx, "creds", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap creds in the tenant's namespace: %v, want none", err)
	}
}

// TestAttackApplicationSetTemplateNeverEnds is the template bomb of the README's table: with
// edit in its namespace, a tenant writes ApplicationSets whose templates loop a billion times,
// writing nothing or writing without end. Each fails within 5 s with a condition naming
// spec.template; ferry-apiserver stays under 500 MiB, and the tenant's other Application keeps
// syncing meanwhile.
func TestAttackApplicationSetTemplateNeverEnds(t *testing.T) {
	s := requireStack(t)
	ns := newTenant(t, "bomb")
	repo := gittest.NewServer(t).NewRepo("bomb")
	first := repo.Commit("main", map[string]string{"web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {version: one}\n"}, "one")
	createApp(t, editor, newApp(ns, "web", repo.URL(), "web"))
	synced := func(rev string) func(*gitopsv1alpha1.Application) bool {
		return func(a *gitopsv1alpha1.Application) bool {
			c := condition(a, "Ready")
			return c != nil && c.Status == metav1.ConditionTrue && a.Status.Sync.Revision == rev
		}
	}

	ctx := ctxFor(t)
	sets := ferry(t, editor).GitopsV1alpha1().ApplicationSets(ns)
	for name, nameTemplate := range map[string]string{
		"endless":   "{{range 1000000000}}{{end}}app-{{.env}}",
		"unbounded": "{{range 10000000000}}0123456789abcdef0123456789abcdef{{end}}app-{{.env}}",
	} {
		set := &gitopsv1alpha1.ApplicationSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: gitopsv1alpha1.ApplicationSetSpec{
				Generators: []gitopsv1alpha1.ApplicationSetGenerator{{List: &gitopsv1alpha1.ListGenerator{
					Elements: []runtime.RawExtension{{Raw: []byte(`{"env": "dev"}`)}, {Raw: []byte(`{"env": "prod"}`)}},
				}}},
				Template: gitopsv1alpha1.ApplicationSetTemplate{
					Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: nameTemplate},
					Spec: gitopsv1alpha1.ApplicationSpec{
						Source:      gitopsv1alpha1.ApplicationSource{RepoURL: repo.URL(), Revision: "main", Path: "web"},
						Destination: gitopsv1alpha1.ApplicationDestination{Namespace: ns},
					},
				},
				ServiceAccountName: deployer,
			},
		}
		if _, err := sets.Create(ctx, set, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating ApplicationSet %s as editor: %v", name, err)
		}
		created := time.Now()
		var took time.Duration
		eventually.Until(t, time.Minute, 100*time.Millisecond, "ApplicationSet "+name+" fails naming its template", func() (bool, string) {
			got, err := sets.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, c := range got.Status.Conditions {
				if c.Type == "Ready" && c.Reason == "TemplateFailed" && strings.Contains(c.Message, "spec.template") {
					took = time.Since(created)
					return true, ""
				}
			}
			return false, describeConditions(got.Status.Conditions)
		})
		t.Logf("%s: TemplateFailed %s after it was created", name, took.Round(10*time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("%s: the template failed only after %s; a template that never ends must be stopped within 5s", name, took)
		}
	}

	// The server is still itself: its memory, and the tenant's other Application.
	if rss := residentMiB(t, s.Pid); rss > 500 {
		t.Errorf("ferry-apiserver's RSS is %d MiB after the templates, want under 500", rss)
	}
	waitForApp(t, ns, "web", 2*time.Minute, "synced at the first commit", synced(first))
	second := repo.Commit("main", map[string]string{"web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {version: two}\n"}, "two")
	_, err := ferry(t, editor).GitopsV1alpha1().Applications(ns).Patch(ctx, "web", "application/merge-patch+json", []byte(`{"spec":{"syncPolicy":{"interval":"10s"}}}`), metav1.PatchOptions{})
	must(t, err)
	waitForApp(t, ns, "web", 2*time.Minute, "synced at the second commit beside the stopped templates", synced(second))
}

// residentMiB is the resident memory of ferry-apiserver, from /proc.
func residentMiB(t *testing.T, pid func(string) (int, error)) int64 {
	t.Helper()
	p, err := pid("ferry-apiserver")
	must(t, err)
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
	must(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			must(t, err)
			return kb >> 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}
