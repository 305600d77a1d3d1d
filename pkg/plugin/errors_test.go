package plugin

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestAPIMissingTellsAnUnservedPathFromAMissingApplication: the plugin says "Ferry is not
// installed" only for a 404 nobody answered for, read from the error's type and details, never
// its words: a missing Application keeps its own message.
func TestAPIMissingTellsAnUnservedPathFromAMissingApplication(t *testing.T) {
	apps := schema.GroupResource{Group: apiGroup, Resource: "applications"}
	for _, c := range []struct {
		what       string
		err        error
		missing    bool
		notServing bool
	}{
		{"a plain 404 page (no aggregated API for the group)", apierrors.NewGenericServerResponse(404, "get", apps, "web", "404 page not found", 0, true), true, true},
		{"a 404 Status that names nothing", &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 404, Reason: metav1.StatusReasonNotFound, Message: "not found"}}, true, true},
		{"wrapped", fmt.Errorf("listing Applications: %w", apierrors.NewGenericServerResponse(404, "list", apps, "", "404 page not found", 0, true)), true, true},
		{"a missing Application", apierrors.NewNotFound(apps, "web"), false, false},
		{"Ferry's server down", apierrors.NewServiceUnavailable("service unavailable"), false, true},
		{"refused", apierrors.NewForbidden(apps, "web", errors.New("no")), false, false},
		{"not from the API", errors.New("the server could not find the requested resource"), false, false},
	} {
		if got := apiMissing(c.err); got != c.missing {
			t.Errorf("%s: apiMissing = %v, want %v", c.what, got, c.missing)
		}
		if got := isNotServed(c.err); got != c.notServing {
			t.Errorf("%s: isNotServed = %v, want %v", c.what, got, c.notServing)
		}
	}
}
