package security

import (
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// TestAttackRandomRevisionsCostFetches is the read amplification of the README's table: a user
// with view asks /manifests and /diff of a team's Application at random commit SHAs, each of
// which cost a fetch under the repository's write lock. Each is refused with 404 saying why,
// and the Git server sees no fetch.
func TestAttackRandomRevisionsCostFetches(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("amplified")
	repo.Commit("main", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n"}, "a team's app")
	ns := newTenant(t, "amplify")
	createApp(t, editor, newApp(ns, "web", repo.URL(), "app"))
	apps := ferry(t, viewer).GitopsV1alpha1().Applications(ns)
	ctx := ctxFor(t)
	eventually.Until(t, 2*time.Minute, 500*time.Millisecond, "the viewer reads /manifests", func() (bool, string) {
		_, err := apps.Manifests(ctx, "web", gitopsv1alpha1.ApplicationManifestsOptions{})
		return err == nil, fmt.Sprint(err)
	})
	fetches := func() int { return srv.CountRequests("POST /amplified.git/git-upload-pack") }
	before := fetches()

	for i := 0; i < 10; i++ {
		random := fmt.Sprintf("%040x", 0xbad0000+i)
		_, err := apps.Manifests(ctx, "web", gitopsv1alpha1.ApplicationManifestsOptions{Revision: random})
		wantUnreachable(t, err, "/manifests?revision="+random)
		_, err = apps.Diff(ctx, "web", gitopsv1alpha1.ApplicationDiffOptions{Revision: random})
		wantUnreachable(t, err, "/diff?revision="+random)
	}
	if got := fetches(); got != before {
		t.Errorf("20 reads at random commits made the Git server serve %d fetches", got-before)
	}
}

func wantUnreachable(t *testing.T, err error, what string) {
	t.Helper()
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "reachable from none of its branches and tags") {
		t.Errorf("viewer's %s: want 404 saying the commit is reachable from no branch or tag, got %v", what, err)
	}
}
