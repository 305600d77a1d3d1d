package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// apiGroup is the group of Ferry's resources, as RBAC and kubectl name it.
const apiGroup = "gitops.ferry.dev"

// request describes the API call that failed, to word the error and the hint.
type request struct {
	resource    string // "" for applications; applicationsets, clusters
	verb        string // RBAC verb: get, list, watch, create
	subresource string // "", "sync", "health", "diff", "manifests"
	namespace   string // "" for all namespaces
	name        string // the Application, "" for list
	revision    string // --revision of diff and manifests, "" for the Application's own
}

// role is the ClusterRole that grants the request to users.
func (r request) role() string {
	if r.verb == "create" || r.verb == "update" || r.verb == "delete" {
		return "ferry-edit"
	}
	return "ferry-view"
}

// plural is the resource the request is about.
func (r request) plural() string {
	if r.resource == "" {
		return "applications"
	}
	return r.resource
}

func (r request) permission() string {
	res := r.plural()
	if r.subresource != "" {
		res += "/" + r.subresource
	}
	return r.verb + " " + res
}

func (r request) canI() string {
	cmd := "kubectl auth can-i " + r.verb + " " + r.plural() + "." + apiGroup
	if r.subresource != "" {
		cmd += " --subresource=" + r.subresource
	}
	if r.namespace == "" {
		return cmd + " --all-namespaces"
	}
	return cmd + " -n " + r.namespace
}

func (r request) where() string {
	if r.namespace == "" {
		return "in any namespace"
	}
	return "in namespace " + r.namespace
}

// apiError turns an error of a call to the API into an ExitError saying what to do next.
func apiError(err error, r request) error {
	if err == nil {
		return nil
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return &ExitError{Code: ExitCodeError, Msg: "interrupted"}
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return statusError(err, status, r)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &ExitError{Code: ExitCodeError, Msg: "the request timed out: " + err.Error(),
			Hint: "Check that the cluster is reachable, or allow more time with --request-timeout."}
	}
	var urlErr *url.Error
	var netErr net.Error
	if errors.As(err, &urlErr) || errors.As(err, &netErr) {
		return &ExitError{Code: ExitCodeError, Msg: "cannot reach the cluster: " + err.Error(),
			Hint: "Check --kubeconfig, --context and --server, and that the cluster is running."}
	}
	return &ExitError{Code: ExitCodeError, Msg: err.Error()}
}

func statusError(err error, status apierrors.APIStatus, r request) error {
	msg := status.Status().Message
	if msg == "" {
		msg = err.Error()
	}
	switch {
	case apierrors.IsNotFound(err):
		if apiMissing(err) {
			return &ExitError{Code: ExitCodeError,
				Msg:  "the cluster does not serve " + apiGroup + "/v1alpha1: is Ferry installed?",
				Hint: "Check its APIService with: kubectl get apiservice v1alpha1." + apiGroup}
		}
		if d := status.Status().Details; d != nil && d.Kind == "revisions" {
			if d.Name != "" {
				msg = d.Name
			}
			return revisionNotFound(msg, r)
		}
		switch {
		case r.name != "" && r.resource == "applicationsets":
			return &ExitError{Code: ExitCodeError, Msg: fmt.Sprintf("no ApplicationSet %s in namespace %s (kubectl ferry appset list -A)", r.name, r.namespace)}
		case r.name != "" && r.resource == "":
			return &ExitError{Code: ExitCodeError, Msg: fmt.Sprintf("no Application %s in namespace %s (kubectl ferry list -A)", r.name, r.namespace)}
		}
		return &ExitError{Code: ExitCodeError, Msg: msg}
	case apierrors.IsForbidden(err) && strings.Contains(msg, "spec.overrideSyncWindows"):
		return &ExitError{Code: ExitCodeError, Msg: "Forbidden: " + msg,
			Hint: "Overriding sync windows takes the verb override on syncwindows." + apiGroup + " " + r.where() + ", which no default role grants; check with: kubectl auth can-i override syncwindows." + apiGroup + " -n " + r.namespace}
	case apierrors.IsForbidden(err):
		return &ExitError{Code: ExitCodeError, Msg: "Forbidden: " + msg,
			Hint: fmt.Sprintf("This needs %q %s, which the %s ClusterRole grants; check with: %s",
				r.permission(), r.where(), r.role(), r.canI())}
	case apierrors.IsUnauthorized(err):
		return &ExitError{Code: ExitCodeError, Msg: "Unauthorized: the cluster did not accept your credentials",
			Hint: "Check --kubeconfig, --context, --token, or log in again."}
	case apierrors.IsConflict(err):
		hint := ""
		switch {
		case strings.Contains(msg, "(SyncWindow)"):
			hint = "See the windows with: kubectl get syncwindows -n " + r.namespace
		case r.name != "":
			hint = fmt.Sprintf("See the current operation with: kubectl ferry status %s -n %s", r.name, r.namespace)
		}
		return &ExitError{Code: ExitCodeFailed, Msg: msg, Hint: hint}
	case apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return &ExitError{Code: ExitCodeError, Msg: msg,
			Hint: "Ferry's API server may be down or starting; check: kubectl get apiservice v1alpha1." + apiGroup}
	}
	return &ExitError{Code: ExitCodeError, Msg: msg}
}

// revisionNotFound words the 404 of diff and manifests for a revision the repository does not
// have; the server's msg names the revision and the repository ("branch or tag \"v9\": revision
// not found in https://...").
func revisionNotFound(msg string, r request) error {
	hint := "The Application's spec.source.revision is not in its repository; check it with: kubectl ferry status " + r.name + " -n " + r.namespace
	if r.revision != "" {
		hint = "--revision takes a branch, a tag or a full 40-character commit SHA of the Application's repository."
	}
	return &ExitError{Code: ExitCodeError, Msg: msg, Hint: hint}
}

// apiMissing tells a 404 for a path nobody serves from a 404 for a missing Application: the
// API answers a missing object with a Status naming it, while a path nobody serves gets a plain
// "404 page not found" (which client-go marks as an unexpected server response) or a Status that
// names nothing.
func apiMissing(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) || st.Status().Reason != metav1.StatusReasonNotFound {
		return false
	}
	d := st.Status().Details
	if d == nil || d.Name == "" && d.Kind == "" {
		return true
	}
	for _, c := range d.Causes {
		if c.Type == metav1.CauseTypeUnexpectedServerResponse {
			return true
		}
	}
	return false
}

// configError words errors of loading the kubeconfig.
func configError(err error) error {
	if clientcmd.IsEmptyConfig(err) {
		return &ExitError{Code: ExitCodeError, Msg: "no cluster configured",
			Hint: "Pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config."}
	}
	return &ExitError{Code: ExitCodeError, Msg: err.Error(), Hint: "Check --kubeconfig and --context."}
}
