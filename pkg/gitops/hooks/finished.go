package hooks

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
)

// Finished judges a hook object: whether it has finished, whether it succeeded, and what it
// says.
func Finished(live *unstructured.Unstructured) (done, ok bool, msg string) {
	name := live.GetKind() + "/" + live.GetName()
	switch live.GroupVersionKind().GroupKind().String() {
	case "Pod":
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		switch phase {
		case "Succeeded":
			return true, true, name + " succeeded"
		case "Failed":
			return true, false, name + " failed"
		}
		return false, false, name + " is " + strings.ToLower(orPending(phase))
	}
	h := health.Of(live)
	switch h.Code {
	case gitopsv1alpha1.HealthHealthy:
		if live.GetKind() == "Job" {
			return true, true, name + " completed"
		}
		return true, true, name + " is Healthy"
	case gitopsv1alpha1.HealthDegraded:
		return true, false, name + " failed: " + h.Message
	}
	return false, false, name + " is " + string(h.Code) + ": " + h.Message
}

func orPending(phase string) string {
	if phase == "" {
		return "Pending"
	}
	return phase
}
