package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func TestListTable(t *testing.T) {
	h := newHarness(t, webApp(), brokenApp(), otherApp())
	h.mustRun(0, "list")
	want := `NAME     SYNC        HEALTH    REVISION       READY   AGE   MESSAGE
broken   OutOfSync   Missing   -              False   3m    Deployment.apps/team/broken is invalid: spec.template.spec.…
web      Synced      Healthy   3f2a9c1b7d4e   True    90m   applied revision 3f2a9c1b7d4e
`
	if h.out.String() != want {
		t.Errorf("list:\n%s\nwant:\n%s", h.out, want)
	}

	h.mustRun(0, "list", "-A")
	want = `NAMESPACE   NAME     SYNC        HEALTH    REVISION       READY     AGE   MESSAGE
data        db       Unknown     Unknown   -              Unknown   2d1h  sync Running (requested by carol)
team        broken   OutOfSync   Missing   -              False     3m    Deployment.apps/team/broken is invalid: spec.template.spec.…
team        web      Synced      Healthy   3f2a9c1b7d4e   True      90m   applied revision 3f2a9c1b7d4e
`
	if normalizeSpace(h.out.String()) != normalizeSpace(want) {
		t.Errorf("list -A:\n%s\nwant:\n%s", h.out, want)
	}
	if !strings.HasPrefix(h.out.String(), "NAMESPACE   NAME     SYNC") {
		t.Errorf("list -A header:\n%s", h.out)
	}

	h.mustRun(0, "list", "-n", "empty")
	if h.out.Len() != 0 || h.err.String() != "No Applications found in namespace empty.\n" {
		t.Errorf("list of an empty namespace: stdout %q stderr %q", h.out, h.err)
	}
}

func TestListOutputs(t *testing.T) {
	h := newHarness(t, webApp(), brokenApp())
	h.mustRun(0, "list", "-o", "json")
	var list gitopsv1alpha1.ApplicationList
	if err := json.Unmarshal(h.out.Bytes(), &list); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, h.out)
	}
	if list.Kind != "ApplicationList" || list.APIVersion != "gitops.ferry.dev/v1alpha1" || len(list.Items) != 2 ||
		list.Items[1].Kind != "Application" || list.Items[1].Status.Sync.Revision != sha1 || list.Items[1].ManagedFields != nil {
		t.Errorf("list -o json: %+v", list)
	}

	h.mustRun(0, "list", "-o", "yaml")
	if err := yaml.Unmarshal(h.out.Bytes(), &list); err != nil || len(list.Items) != 2 {
		t.Errorf("list -o yaml: %v\n%s", err, h.out)
	}
}
