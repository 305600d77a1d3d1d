package validation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

func rolloutSet(steps ...gitops.RollingSyncStep) *gitops.ApplicationSet {
	return &gitops.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Name: "guestbook", Namespace: "team"},
		Spec: gitops.ApplicationSetSpec{
			Generators: []gitops.ApplicationSetGenerator{{List: &gitops.ListGenerator{}}},
			Template:   gitops.ApplicationSetTemplate{Metadata: gitops.ApplicationSetTemplateMeta{Name: "guestbook-{{.env}}"}},
			Strategy:   &gitops.ApplicationSetStrategy{RollingSync: &gitops.RollingSyncStrategy{Steps: steps}},
		},
	}
}

func envStep(name, env string, maxUpdate *intstr.IntOrString) gitops.RollingSyncStep {
	return gitops.RollingSyncStep{Name: name, Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": env}}, MaxUpdate: maxUpdate}
}

func TestRollingSyncStepsAreValidated(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	count := func(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }
	for _, tc := range []struct {
		name  string
		set   *gitops.ApplicationSet
		field string // empty: valid
	}{
		{"staging then production", rolloutSet(envStep("staging", "staging", count(1)), envStep("production", "production", pct("25%"))), ""},
		{"zero holds the rollout", rolloutSet(envStep("", "staging", count(0))), ""},
		{"no steps", rolloutSet(), "spec.strategy.rollingSync.steps"},
		{"negative count", rolloutSet(envStep("staging", "staging", count(-1))), "spec.strategy.rollingSync.steps[0].maxUpdate"},
		{"percentage over 100", rolloutSet(envStep("staging", "staging", pct("150%"))), "spec.strategy.rollingSync.steps[0].maxUpdate"},
		{"a word", rolloutSet(envStep("staging", "staging", pct("half"))), "spec.strategy.rollingSync.steps[0].maxUpdate"},
		{"two steps of one name", rolloutSet(envStep("prod", "a", nil), envStep("prod", "b", nil)), "spec.strategy.rollingSync.steps[1].name"},
		{"a name that is not a label", rolloutSet(envStep("Prod_EU", "a", nil)), "spec.strategy.rollingSync.steps[0].name"},
		{"a bad selector", rolloutSet(gitops.RollingSyncStep{Selector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "Near"}}}}),
			"spec.strategy.rollingSync.steps[0].selector.matchExpressions[0].operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateApplicationSet(tc.set, Options{}, nil)
			if tc.field == "" {
				if len(errs) != 0 {
					t.Fatalf("refused: %v", errs.ToAggregate())
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("accepted; want an error naming %s", tc.field)
			}
			if !strings.Contains(errs.ToAggregate().Error(), tc.field+":") {
				t.Errorf("error %q does not name %s", errs.ToAggregate(), tc.field)
			}
		})
	}
}
