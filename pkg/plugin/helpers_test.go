package plugin

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

// The clock, fixtures and harness below are shared by the tests of every command; each
// command's tests live in <command>_test.go beside <command>.go.
var testNow = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

const (
	sha1 = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345"
)

func minutesAgo(m int) metav1.Time {
	return metav1.NewTime(testNow.Add(-time.Duration(m) * time.Minute))
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }

// harness runs commands against a fake clientset, or against clientset when it is set.
type harness struct {
	t         *testing.T
	client    *fake.Clientset
	clientset versioned.Interface
	out, err  *bytes.Buffer
	color     bool
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	return &harness{t: t, client: fake.NewSimpleClientset(objs...), out: &bytes.Buffer{}, err: &bytes.Buffer{}}
}

// run executes kubectl ferry args; the namespace is -n's, else "team".
func (h *harness) run(args ...string) int {
	h.t.Helper()
	h.out.Reset()
	h.err.Reset()
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: h.out, ErrOut: h.err})
	o.Color = h.color
	o.Now = func() time.Time { return testNow }
	o.NewClient = func() (versioned.Interface, error) {
		if h.clientset != nil {
			return h.clientset, nil
		}
		return h.client, nil
	}
	o.Namespace = func() (string, error) {
		if ns := *o.ConfigFlags.Namespace; ns != "" {
			return ns, nil
		}
		return "team", nil
	}
	return Run(context.Background(), o, args)
}

func (h *harness) mustRun(want int, args ...string) {
	h.t.Helper()
	if got := h.run(args...); got != want {
		h.t.Fatalf("kubectl ferry %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, h.out, h.err)
	}
}

func webApp() *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team", CreationTimestamp: minutesAgo(90), ResourceVersion: "10",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/repo.git", Revision: "main", Path: "apps/web"},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: "web"},
		},
		Status: gitopsv1alpha1.ApplicationStatus{
			SourceRevision: sha1,
			Sync:           gitopsv1alpha1.SyncStatus{Status: gitopsv1alpha1.SyncStatusSynced, Revision: sha1},
			Health:         gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthHealthy},
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "applied revision 3f2a9c1b7d4e", LastTransitionTime: minutesAgo(5)},
				{Type: "Synced", Status: metav1.ConditionTrue, Reason: "Synced", Message: "in sync", LastTransitionTime: minutesAgo(5)},
			},
			Resources: []gitopsv1alpha1.ResourceStatus{
				{Version: "v1", Kind: "Service", Namespace: "web", Name: "web", Status: "Synced", Health: "Healthy"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Status: "Synced", Health: "Healthy"},
				{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web", Status: "OutOfSync", Health: "Healthy"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "a-config", Status: "Synced", Health: "Healthy"},
				{Version: "v1", Kind: "Namespace", Name: "web", Status: "Synced", Health: "Healthy"},
			},
			Operation: &gitopsv1alpha1.Operation{
				ID: "b555911b-0618-48fd-bdfa-aebdb9d7be78", Phase: gitopsv1alpha1.OperationSucceeded, Revision: "main", Prune: true,
				RequestedBy: gitopsv1alpha1.RequestedBy{Username: "alice", Groups: []string{"devs"}},
				RequestedAt: minutesAgo(6), StartedAt: ptrTime(minutesAgo(6)), FinishedAt: ptrTime(minutesAgo(5)),
				SyncedRevision: sha1, Message: "revision 3f2a9c1b7d4e: 3 created",
			},
			History: []gitopsv1alpha1.OperationRecord{
				{ID: "b555911b-0618-48fd-bdfa-aebdb9d7be78", Phase: "Succeeded", Revision: "main", SyncedRevision: sha1, Prune: true,
					RequestedBy: "alice", FinishedAt: ptrTime(minutesAgo(5)), Message: "revision 3f2a9c1b7d4e: 3 created"},
				{ID: "0c1d2e3f-aaaa-bbbb-cccc-dddddddddddd", Phase: "Failed", Revision: "main", RequestedBy: "bob",
					DryRun: true, FinishedAt: ptrTime(minutesAgo(60)), Message: "Deployment.apps/web/web is invalid: spec.template.spec.containers: Required value"},
			},
			ReconciledAt: ptrTime(minutesAgo(1)),
		},
	}
}

func brokenApp() *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "team", CreationTimestamp: minutesAgo(3)},
		Spec:       gitopsv1alpha1.ApplicationSpec{Source: gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/repo.git", Path: "bad"}},
		Status: gitopsv1alpha1.ApplicationStatus{
			Sync:   gitopsv1alpha1.SyncStatus{Status: gitopsv1alpha1.SyncStatusOutOfSync},
			Health: gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthMissing},
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "ApplyFailed",
				Message: "Deployment.apps/team/broken is invalid: spec.template.spec.containers: Required value; nothing was applied"}},
		},
	}
}

func otherApp() *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data", CreationTimestamp: minutesAgo(60 * 49)},
		Status:     gitopsv1alpha1.ApplicationStatus{Operation: &gitopsv1alpha1.Operation{ID: "x", Phase: "Running", RequestedBy: gitopsv1alpha1.RequestedBy{Username: "carol"}}},
	}
}

func normalizeSpace(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

type errString string

func (e errString) Error() string { return string(e) }

func stripANSI(s string) string {
	for _, c := range []string{ansiReset, ansiRed, ansiGreen, ansiYellow, ansiCyan, ansiBold} {
		s = strings.ReplaceAll(s, c, "")
	}
	return s
}

// configMap is a ConfigMap as Ferry's diff and manifests see it.
func configMap(name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "web"},
		"data":     map[string]any{"value": value},
	}}
}
