package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func onCall() *gitopsv1alpha1.Alert {
	return &gitopsv1alpha1.Alert{
		ObjectMeta: metav1.ObjectMeta{Name: "on-call", Namespace: "team"},
		Spec:       gitopsv1alpha1.AlertSpec{ProviderRef: gitopsv1alpha1.LocalObjectReference{Name: "slack"}, Triggers: []gitopsv1alpha1.AlertTrigger{"SyncFailed", "Deployed"}},
		Status: gitopsv1alpha1.AlertStatus{
			Conditions: []metav1.Condition{{Type: "Delivered", Status: metav1.ConditionFalse, Reason: "DeliveryFailed", Message: "SyncFailed of web failed after 4 attempts: the provider answered 500 Internal Server Error"}},
			RecentDeliveries: []gitopsv1alpha1.AlertDelivery{
				{Time: minutesAgo(2), Application: "web", Trigger: "SyncFailed", Revision: "3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345", Provider: "slack", Result: "Failed", Attempts: 4, Error: "the provider answered 500 Internal Server Error"},
				{Time: minutesAgo(5), Application: "web", Trigger: "Deployed", Revision: "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d", Provider: "slack", Result: "Sent", Attempts: 1},
			},
		},
	}
}

// TestAlerts: the recent deliveries of an Alert, newest first, with why the last one failed
// above them; -o json gives them with the Alert's name; -A adds the namespace.
func TestAlerts(t *testing.T) {
	h := newHarness(t, onCall())
	h.mustRun(0, "alerts", "on-call")
	want := `Alert on-call: SyncFailed of web failed after 4 attempts: the provider answered 500 Internal Server Error
TIME     ALERT     APPLICATION   TRIGGER      REVISION       PROVIDER   RESULT   ATTEMPTS   ERROR
2m ago   on-call   web           SyncFailed   3f2a9c1b7d4e   slack      Failed   4          the provider answered 500 Internal Server Error
5m ago   on-call   web           Deployed     0c1d2e3f4a5b   slack      Sent     1          -
`
	if h.out.String() != want {
		t.Errorf("alerts:\n%s\nwant:\n%s", h.out, want)
	}
	h.mustRun(0, "alerts", "-o", "json")
	var ds []map[string]any
	if err := json.Unmarshal(h.out.Bytes(), &ds); err != nil || len(ds) != 2 || ds[0]["alert"] != "on-call" || ds[0]["result"] != "Failed" || ds[1]["trigger"] != "Deployed" {
		t.Errorf("alerts -o json: %v\n%s", err, h.out)
	}
	h.mustRun(0, "alerts", "-A")
	if !strings.HasPrefix(h.out.String(), "Alert on-call") || !strings.Contains(h.out.String(), "NAMESPACE") || !strings.Contains(h.out.String(), "team ") {
		t.Errorf("alerts -A:\n%s", h.out)
	}
	if code := h.run("alerts", "missing"); code == 0 || !strings.Contains(h.err.String(), "missing") {
		t.Errorf("alerts of a missing Alert: exit %d, %s", code, h.err)
	}
	h = newHarness(t)
	h.mustRun(0, "alerts")
	if !strings.Contains(h.err.String(), "No Alerts found.") {
		t.Errorf("no Alerts: %q", h.err)
	}
}
