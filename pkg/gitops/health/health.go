// Package health judges the health of live objects with kstatus and aggregates it to an
// Application: the worst object wins.
package health

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Status is the health of one object.
type Status struct {
	Code    gitopsv1alpha1.HealthStatusCode
	Message string
}

// severity orders health codes from best to worst.
var severity = map[gitopsv1alpha1.HealthStatusCode]int{
	gitopsv1alpha1.HealthHealthy:     0,
	gitopsv1alpha1.HealthSuspended:   1,
	gitopsv1alpha1.HealthProgressing: 2,
	gitopsv1alpha1.HealthUnknown:     3,
	gitopsv1alpha1.HealthMissing:     4,
	gitopsv1alpha1.HealthDegraded:    5,
}

// IsWorse reports whether a is worse than b.
func IsWorse(a, b gitopsv1alpha1.HealthStatusCode) bool {
	return severity[a] > severity[b]
}

// Of judges one live object; nil means it does not exist.
func Of(obj *unstructured.Unstructured) Status {
	if obj == nil {
		return Status{Code: gitopsv1alpha1.HealthMissing, Message: "not found in the cluster"}
	}
	if msg, ok := suspended(obj); ok {
		return Status{Code: gitopsv1alpha1.HealthSuspended, Message: msg}
	}
	if msg, ok := jobRunning(obj); ok {
		return Status{Code: gitopsv1alpha1.HealthProgressing, Message: msg}
	}
	res, err := kstatus.Compute(obj)
	if err != nil {
		return Status{Code: gitopsv1alpha1.HealthUnknown, Message: fmt.Sprintf("cannot compute status: %v", err)}
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		return Status{Code: gitopsv1alpha1.HealthHealthy, Message: res.Message}
	case kstatus.InProgressStatus, kstatus.TerminatingStatus:
		return Status{Code: gitopsv1alpha1.HealthProgressing, Message: res.Message}
	case kstatus.FailedStatus:
		return Status{Code: gitopsv1alpha1.HealthDegraded, Message: res.Message}
	case kstatus.NotFoundStatus:
		return Status{Code: gitopsv1alpha1.HealthMissing, Message: res.Message}
	}
	return Status{Code: gitopsv1alpha1.HealthUnknown, Message: res.Message}
}

// suspended recognises workloads paused on purpose, which kstatus reports as in progress.
func suspended(obj *unstructured.Unstructured) (string, bool) {
	switch obj.GroupVersionKind().GroupKind().String() {
	case "Deployment.apps":
		if paused, _, _ := unstructured.NestedBool(obj.Object, "spec", "paused"); paused {
			return "Deployment is paused", true
		}
	case "CronJob.batch", "Job.batch":
		if s, _, _ := unstructured.NestedBool(obj.Object, "spec", "suspend"); s {
			return obj.GetKind() + " is suspended", true
		}
	}
	return "", false
}

// jobRunning recognises a Job that has neither completed nor failed. kstatus calls a running
// Job Current (its controller has seen it), but a user waiting on a migration, and a sync wave
// or hook ordered after it, wait for it to finish, as Argo CD does.
func jobRunning(obj *unstructured.Unstructured) (string, bool) {
	if obj.GroupVersionKind().GroupKind().String() != "Job.batch" {
		return "", false
	}
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		if (cond["type"] == "Complete" || cond["type"] == "Failed") && cond["status"] == "True" {
			return "", false
		}
	}
	active, _, _ := unstructured.NestedInt64(obj.Object, "status", "active")
	succeeded, _, _ := unstructured.NestedInt64(obj.Object, "status", "succeeded")
	failed, _, _ := unstructured.NestedInt64(obj.Object, "status", "failed")
	return fmt.Sprintf("Job has not finished: %d active, %d succeeded, %d failed", active, succeeded, failed), true
}

// Aggregate is the health of a set of objects: the worst one's, with its message prefixed by
// the object. An empty set is Healthy.
func Aggregate(objects []Named) Status {
	worst := Status{Code: gitopsv1alpha1.HealthHealthy}
	for _, o := range objects {
		if IsWorse(o.Status.Code, worst.Code) {
			worst = Status{Code: o.Status.Code, Message: o.Name + ": " + o.Status.Message}
		}
	}
	return worst
}

// Named is an object's health with a name to report it by, such as "Deployment/web".
type Named struct {
	Name   string
	Status Status
}
