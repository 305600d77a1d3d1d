package plugin

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
)

func TestNotFoundAndMissingAPI(t *testing.T) {
	h := newHarness(t)
	for _, cmd := range []string{"status", "history", "health", "sync", "diff", "manifests"} {
		h.mustRun(2, cmd, "nope")
		if want := "error: no Application nope in namespace team (kubectl ferry list -A)\n"; h.err.String() != want {
			t.Errorf("%s of a missing Application: stderr %q, want %q", cmd, h.err, want)
		}
	}
	h.client.PrependReactor("*", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
		// What client-go makes of kube-apiserver's plain "404 page not found" for a group
		// nobody serves.
		return true, nil, apierrors.NewGenericServerResponse(404, "get", schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications"}, "web", "404 page not found", 0, true)
	})
	h.mustRun(2, "list")
	if !strings.Contains(h.err.String(), "is Ferry installed?") || !strings.Contains(h.err.String(), "kubectl get apiservice v1alpha1.gitops.ferry.dev") {
		t.Errorf("list without Ferry's API: %s", h.err)
	}
}

func TestUsageErrors(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate" for "kubectl ferry"`},
		{[]string{"status"}, "kubectl ferry status needs the Application's name"},
		{[]string{"status", "a", "b"}, "takes one Application, got 2 arguments"},
		{[]string{"list", "extra"}, "kubectl ferry list takes no arguments"},
		{[]string{"list", "-o", "wide"}, `unsupported output format "wide": use -o json or -o yaml`},
		{[]string{"sync", "a", "--timeout", "1m"}, "--timeout needs --wait"},
		{[]string{"sync", "a", "--wait", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"sync", "a", "--nope"}, "unknown flag: --nope"},
		{[]string{"diff"}, "kubectl ferry diff needs the Application's name"},
		{[]string{"diff", "a", "-o", "wide"}, `unsupported output format "wide": use -o json or -o yaml`},
		{[]string{"diff", "a", "--revision"}, "flag needs an argument: --revision"},
		{[]string{"manifests", "a", "b"}, "takes one Application, got 2 arguments"},
		{[]string{"manifests", "a", "-o", "name"}, `unsupported output format "name": use -o json or -o yaml`},
	} {
		if code := h.run(tc.args...); code != 2 || !strings.Contains(h.err.String(), tc.want) || !strings.Contains(h.err.String(), "--help' for usage.") {
			t.Errorf("kubectl ferry %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, h.err, tc.want)
		}
	}
	if len(h.client.Actions()) != 0 {
		t.Errorf("usage errors reached the API: %v", h.client.Actions())
	}
}
