package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestResourceQuotaCountsApplications: a namespace's ResourceQuota limits its Applications like
// any other kind, count/applications.gitops.ferry.dev, enforced by Ferry's own admission chain.
func TestResourceQuotaCountsApplications(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "quota")
	kubectl(t, "create", "quota", "apps", "--hard=count/applications.gitops.ferry.dev=1", "-n", ns)
	// kube-controller-manager's quota controller counts what exists (from Ferry's API) before
	// the quota is enforced.
	eventually(t, 90*time.Second, "the quota's usage is counted", func() (bool, string) {
		r := s.Run(Admin, "", "get", "resourcequota", "apps", "-n", ns, "-o", "jsonpath={.status.used}")
		return strings.Contains(r.Stdout, "count/applications.gitops.ferry.dev"), r.String()
	})
	manual := map[string]any{"syncPolicy": nil}
	kubectlStdin(t, Admin, appManifest(ns, "first", manual), "create", "-f", "-")

	r := kubectlFails(t, Admin, appManifest(ns, "second", manual), "create", "-f", "-")
	for _, want := range []string{"exceeded quota: apps", "count/applications.gitops.ferry.dev=1"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the second Application: want the quota's refusal saying %q, got %s", want, r)
		}
	}
	assertNotFound(t, ns, "second")
	used := kubectl(t, "get", "resourcequota", "apps", "-n", ns, "-o", `jsonpath={.status.used.count/applications\.gitops\.ferry\.dev}`)
	if strings.TrimSpace(used) != "1" {
		t.Errorf("the quota's used count is %q, want 1", used)
	}

	// Deleting the first frees the room again.
	kubectl(t, "delete", "application", "first", "-n", ns)
	eventually(t, 60*time.Second, "a new Application fits once the first is gone", func() (bool, string) {
		r := s.Run(Admin, appManifest(ns, "second", manual), "create", "-f", "-")
		return r.Err == nil, r.String()
	})
}
