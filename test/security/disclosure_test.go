package security

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// registerCluster registers the stack's own cluster as a Cluster named name with annotations,
// as a platform team would (its credentials Secret in ferry-system). Both are deleted at cleanup.
func registerCluster(t *testing.T, name string, annotations map[string]string) {
	t.Helper()
	s := requireStack(t)
	ctx := ctxFor(t)
	ca, err := os.ReadFile(filepath.Join(s.Dir, "pki", "ca.crt"))
	must(t, err)
	secret := name + "-credentials"
	must(t, create(ctx, kube(t, admin), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: "ferry-system"},
		StringData: map[string]string{"token": s.Token(admin)}}))
	_, err = ferry(t, admin).GitopsV1alpha1().Clusters().Create(ctx, &gitopsv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec: gitopsv1alpha1.ClusterSpec{Server: "https://127.0.0.1:" + s.Env["KUBE_PORT"], CABundle: ca,
			CredentialsRef: gitopsv1alpha1.LocalObjectReference{Name: secret}},
	}, metav1.CreateOptions{})
	must(t, err)
	t.Cleanup(func() {
		_ = ferry(t, admin).GitopsV1alpha1().Clusters().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = kube(t, admin).CoreV1().Secrets("ferry-system").Delete(context.Background(), secret, metav1.DeleteOptions{})
	})
}

// TestAttackClustersGeneratorListsEveryCluster is the Cluster disclosure of the README's table:
// a tenant's ApplicationSet with a clusters generator selecting everything, its ServiceAccount
// allowed to use one Cluster. Only that Cluster reaches the template: no Application is made
// for the other, and its name, server and annotations appear nowhere the tenant reads.
func TestAttackClustersGeneratorListsEveryCluster(t *testing.T) {
	requireStack(t)
	ctx := ctxFor(t)
	ns := newTenant(t, "fleet")
	id := fmt.Sprintf("%05d", rand.IntN(100000))
	mine, theirs := "team-"+id, "payments-prod-"+id
	registerCluster(t, mine, nil)
	registerCluster(t, theirs, map[string]string{"owner": "payments-oncall-" + id})

	// deployer may use its team's Cluster, and no other.
	k := kube(t, admin)
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "use-" + mine},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{gitopsv1alpha1.GroupName}, Resources: []string{"clusters"}, Verbs: []string{"use"}, ResourceNames: []string{mine}}}}
	_, err := k.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	must(t, err)
	_, err = k.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "use-" + mine + "-" + ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: deployer, Namespace: ns}}}, metav1.CreateOptions{})
	must(t, err)
	t.Cleanup(func() {
		_ = k.RbacV1().ClusterRoleBindings().Delete(context.Background(), "use-"+mine+"-"+ns, metav1.DeleteOptions{})
		_ = k.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})

	repo := gittest.NewServer(t).NewRepo("fleet")
	repo.Commit("main", map[string]string{"web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {k: v}\n"}, "web")
	sets := ferry(t, editor).GitopsV1alpha1().ApplicationSets(ns)
	_, err = sets.Create(ctx, &gitopsv1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Name: "everything", Namespace: ns},
		Spec: gitopsv1alpha1.ApplicationSetSpec{
			Generators: []gitopsv1alpha1.ApplicationSetGenerator{{Clusters: &gitopsv1alpha1.ClusterGenerator{}}},
			Template: gitopsv1alpha1.ApplicationSetTemplate{
				Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: "c-{{.name}}",
					Annotations: map[string]string{"server": "{{.server}}", "annotations": "{{.metadata.annotations}}"}},
				Spec: gitopsv1alpha1.ApplicationSpec{
					Source:      gitopsv1alpha1.ApplicationSource{RepoURL: repo.URL(), Revision: "main", Path: "web"},
					Destination: gitopsv1alpha1.ApplicationDestination{Namespace: ns},
				},
			},
			ServiceAccountName: deployer,
		},
	}, metav1.CreateOptions{})
	must(t, err)

	apps := ferry(t, editor).GitopsV1alpha1().Applications(ns)
	eventually.Until(t, time.Minute, 200*time.Millisecond, "the set makes c-"+mine, func() (bool, string) {
		_, err := apps.Get(ctx, "c-"+mine, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	list, err := apps.List(ctx, metav1.ListOptions{})
	must(t, err)
	set, err := sets.Get(ctx, "everything", metav1.GetOptions{})
	must(t, err)
	seen := fmt.Sprintf("%+v %+v", list.Items, set.Status)
	for _, leak := range []string{theirs, "payments-oncall-" + id} {
		if strings.Contains(seen, leak) {
			t.Errorf("the tenant reads %q, of a Cluster its ServiceAccount may not use, in its Applications or the set's status", leak)
		}
	}
	if len(list.Items) != 1 {
		t.Errorf("the set made %d Applications, want one (for %s)", len(list.Items), mine)
	}
}

// TestAttackSecretGeneratorLiteralEchoed is the literal echo of the README's table: a tenant's
// kustomization lists a builtin SecretGenerator config (a file) whose literal is malformed.
// The render fails; the literal is in neither the Application's status nor its Events.
func TestAttackSecretGeneratorLiteralEchoed(t *testing.T) {
	requireStack(t)
	const marker = "db-password-hunter2-marker"
	ns := newTenant(t, "literal")
	repo := gittest.NewServer(t).NewRepo("literal")
	repo.Commit("main", map[string]string{
		"app/kustomization.yaml": "generators: [gen.yaml]\n",
		"app/gen.yaml":           "apiVersion: builtin\nkind: SecretGenerator\nmetadata: {name: db}\nliterals:\n- \"password: " + marker + "\"\n",
	}, "a malformed literal")
	createApp(t, editor, newApp(ns, "db", repo.URL(), "app"))
	app := waitForApp(t, ns, "db", 2*time.Minute, "fails to render", func(a *gitopsv1alpha1.Application) bool {
		c := condition(a, "Ready")
		return c != nil && c.Reason == gitopsv1alpha1.ReasonRenderFailed
	})
	t.Logf("db: %s", condition(app, "Ready").Message)
	if text := fmt.Sprintf("%+v", app.Status); strings.Contains(text, marker) {
		t.Errorf("the status quotes the literal: %s", text)
	}
	events, err := kube(t, admin).CoreV1().Events(ns).List(ctxFor(t), metav1.ListOptions{})
	must(t, err)
	for _, e := range events.Items {
		if strings.Contains(e.Message, marker) {
			t.Errorf("an Event quotes the literal: %s", e.Message)
		}
	}
}
