package application

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
)

// OverrideVerb is the verb on syncwindows that lets a user sync or roll back while a window
// blocks (spec.overrideSyncWindows). No default role holds it.
const OverrideVerb = "override"

// WindowGate refuses /sync and /rollback while a SyncWindow of the Application's namespace
// blocks syncs (409 naming the window and when it ends), unless the blocking windows allow
// manual syncs or the request sets spec.overrideSyncWindows and its user holds the verb
// override on syncwindows there (otherwise 403 naming the verb).
type WindowGate struct {
	// Authorizer answers whether the requester may override (the server's delegated authorizer).
	Authorizer authorizer.Authorizer
	// Windows lists the SyncWindows of a namespace (the SyncWindows' storage, wired by
	// pkg/apiserver).
	Windows func(ctx context.Context, namespace string) ([]gitopsv1alpha1.SyncWindow, error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// authorizeOverride refuses a request asking to override the windows from a user without the
// verb: asked for, it is checked whether a window blocks now or not, so the answer does not
// depend on the hour.
func (g *WindowGate) authorizeOverride(ctx context.Context, u user.Info, namespace, app string, override bool) error {
	if g == nil || !override {
		return nil
	}
	if g.Authorizer == nil {
		return apierrors.NewForbidden(gitops.Resource("applications"), app, fmt.Errorf("no authorizer to check spec.overrideSyncWindows"))
	}
	refused, why, err := access.Refused(ctx, g.Authorizer, u, gitops.GroupName, OverrideVerb, "syncwindows", namespace, "")
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if refused {
		return apierrors.NewForbidden(gitops.Resource("applications"), app, field.ErrorList{field.Forbidden(field.NewPath("spec", "overrideSyncWindows"),
			fmt.Sprintf("user %q may not override sync windows in namespace %s%s: it takes verb %s on syncwindows.%s, which no default role grants",
				u.GetName(), namespace, why, OverrideVerb, gitops.GroupName))}.ToAggregate())
	}
	return nil
}

// refuse is the 409 for an operation a SyncWindow blocks: nil when no window blocks, the
// windows in force allow manual syncs, or the (authorized) request overrides them.
func (g *WindowGate) refuse(ctx context.Context, app *gitops.Application, override bool, what string) error {
	if g == nil || g.Windows == nil || override {
		return nil
	}
	windows, err := g.Windows(ctx, app.Namespace)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	v := syncwindow.Evaluate(now(), windows, app.Labels)
	if !v.Blocked || v.ManualAllowed {
		return nil
	}
	return apierrors.NewConflict(gitops.Resource("applications"), app.Name, fmt.Errorf(
		"%s refused: %s (SyncWindow); wait for it, or ask someone allowed to override sync windows (verb %s on syncwindows) to set spec.overrideSyncWindows",
		what, v, OverrideVerb))
}
