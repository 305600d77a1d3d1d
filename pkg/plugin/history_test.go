package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func TestHistory(t *testing.T) {
	app := webApp()
	app.Status.Operation = &gitopsv1alpha1.Operation{ID: "99999999-0000", Phase: "Running", RequestedBy: gitopsv1alpha1.RequestedBy{Username: "dave"}, RequestedAt: minutesAgo(2)}
	h := newHarness(t, app)
	h.mustRun(0, "history", "web")
	want := `Operation 99999999 is Running (requested by dave 2m ago).
ID         PHASE       REVISION       REQUESTED-BY   FINISHED   MESSAGE
b555911b   Succeeded   3f2a9c1b7d4e   alice          5m ago     (prune) revision 3f2a9c1b7d4e: 3 created
0c1d2e3f   Failed      main           bob            60m ago    (dry run) Deployment.apps/web/web is invalid: spec.template.spec.containers: Re…
`
	if h.out.String() != want {
		t.Errorf("history:\n%s\nwant:\n%s", h.out, want)
	}
	h.mustRun(0, "history", "web", "-o", "json")
	var records []gitopsv1alpha1.OperationRecord
	if err := json.Unmarshal(h.out.Bytes(), &records); err != nil || len(records) != 2 || records[1].Phase != "Failed" {
		t.Errorf("history -o json: %v\n%s", err, h.out)
	}

	h = newHarness(t, brokenApp())
	h.mustRun(0, "history", "broken")
	if !strings.Contains(h.err.String(), "No finished operations recorded for Application broken in namespace team.") {
		t.Errorf("history without operations: %q", h.err)
	}
}
