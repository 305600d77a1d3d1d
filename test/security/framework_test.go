// Package security tries Ferry as a hostile tenant would: each TestAttack* test is one attack of
// the README's security table, run against a real ferry-apiserver registered with a real
// kube-apiserver (pkg/testing/localstack), driven through client-go as the users of the stack's
// token file. A tenant here is a namespace where the user editor holds `edit` and viewer holds
// `view`, and whose ServiceAccount deployer (the identity its Applications act as) holds `admin`,
// as artifacts/examples/tenant.yaml sets one up.
//
// TestMain builds ./cmd/ferry-apiserver and starts a stack of its own; `go test -short` skips
// every test. FERRY_APISERVER_BIN uses a binary already built.
package security

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// The users of the stack's token file that tests act as.
const (
	admin  = "admin"  // system:masters
	editor = "editor" // edit in the tenant's namespace
	viewer = "viewer" // view in the tenant's namespace
)

// deployer is the ServiceAccount a tenant's Applications act as.
const deployer = "deployer"

// ferryArgs are the flags of the stack's ferry-apiserver: Clusters probed often enough for a test
// to see one change.
var ferryArgs = []string{"--cluster-probe-interval=2s"}

// stack is the running stack; nil with -short.
var stack *localstack.Stack

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		return m.Run()
	}
	bin := os.Getenv("FERRY_APISERVER_BIN")
	if bin == "" {
		built, remove, err := localstack.BuildFerry()
		if err != nil {
			fmt.Fprintln(os.Stderr, "security:", err)
			return 1
		}
		defer remove()
		bin = built
	}
	s, err := localstack.Start(localstack.Options{FerryBin: bin, FerryArgs: ferryArgs})
	if err != nil {
		fmt.Fprintf(os.Stderr, "security: cannot start the local stack: %v\n", err)
		return 1
	}
	stack = s
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "\n==== last 80 lines of ferry-apiserver.log ====\n%s", s.LogTail("ferry-apiserver", 80))
	}
	s.Stop()
	return code
}

// requireStack skips the test with -short and returns the stack.
func requireStack(t *testing.T) *localstack.Stack {
	t.Helper()
	if stack == nil {
		t.Skip("security tests start a control plane and ferry-apiserver; skipped with -short")
	}
	return stack
}

// kube is a Kubernetes client acting as user.
func kube(t *testing.T, user string) kubernetes.Interface {
	t.Helper()
	return kubernetes.NewForConfigOrDie(requireStack(t).RestConfig(user))
}

// ferry is a Ferry client acting as user.
func ferry(t *testing.T, user string) versioned.Interface {
	t.Helper()
	return versioned.NewForConfigOrDie(requireStack(t).RestConfig(user))
}

// ctxFor is a context that ends with the test, or after five minutes.
func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newTenant makes a namespace set up as a team's: editor may edit there, viewer may view, and
// the ServiceAccount deployer, which its Applications act as, is an admin of it and of nothing
// else. The namespace is deleted (without waiting) at cleanup.
func newTenant(t *testing.T, prefix string) string {
	t.Helper()
	ctx := ctxFor(t)
	k := kube(t, admin)
	ns := fmt.Sprintf("sec-%s-%05d", prefix, rand.IntN(100000))
	must(t, create(ctx, k, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	t.Cleanup(func() {
		_ = k.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	must(t, create(ctx, k, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: deployer, Namespace: ns}}))
	bind := func(name, role string, subject rbacv1.Subject) {
		must(t, create(ctx, k, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{subject},
		}))
	}
	bind("deployer-admin", "admin", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: deployer, Namespace: ns})
	bind("editor-edit", "edit", rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: editor})
	bind("viewer-view", "view", rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: viewer})
	// The aggregated roles reach Ferry's kinds once kube-controller-manager has aggregated them;
	// wait until editor may create Applications here, as a tenant would find it.
	eventually.Until(t, time.Minute, 200*time.Millisecond, "editor may create Applications in "+ns, func() (bool, string) {
		_, err := ferry(t, editor).GitopsV1alpha1().Applications(ns).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, fmt.Sprint(err)
	})
	return ns
}

// create creates a core or RBAC object as the client's user.
func create(ctx context.Context, k kubernetes.Interface, obj any) error {
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = k.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
	case *corev1.ServiceAccount:
		_, err = k.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Secret:
		_, err = k.CoreV1().Secrets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.ConfigMap:
		_, err = k.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.PersistentVolumeClaim:
		_, err = k.CoreV1().PersistentVolumeClaims(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.RoleBinding:
		_, err = k.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	default:
		return fmt.Errorf("create: unsupported %T", obj)
	}
	return err
}

// newApp is an automated Application of a tenant acting as deployer, syncing path of repoURL at
// main into ns.
func newApp(ns, name, repoURL, path string) *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source: gitopsv1alpha1.ApplicationSource{RepoURL: repoURL, Revision: "main", Path: path},
			Destination: gitopsv1alpha1.ApplicationDestination{
				Namespace: ns,
			},
			ServiceAccountName: deployer,
			SyncPolicy: gitopsv1alpha1.SyncPolicy{
				Automated: &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true, SelfHeal: true},
			},
		},
	}
}

// createApp creates app as user.
func createApp(t *testing.T, user string, app *gitopsv1alpha1.Application) *gitopsv1alpha1.Application {
	t.Helper()
	out, err := ferry(t, user).GitopsV1alpha1().Applications(app.Namespace).Create(ctxFor(t), app, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Application %s/%s as %s: %v", app.Namespace, app.Name, user, err)
	}
	return out
}

// waitForApp polls the Application until done says it is as wanted, and returns it.
func waitForApp(t *testing.T, ns, name string, timeout time.Duration, what string, done func(*gitopsv1alpha1.Application) bool) *gitopsv1alpha1.Application {
	t.Helper()
	var last *gitopsv1alpha1.Application
	eventually.Until(t, timeout, 200*time.Millisecond, fmt.Sprintf("Application %s/%s: %s", ns, name, what), func() (bool, string) {
		app, err := ferry(t, admin).GitopsV1alpha1().Applications(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		last = app
		return done(app), fmt.Sprintf("conditions %s", describeConditions(app.Status.Conditions))
	})
	return last
}

// condition is the Application's condition of type typ, or nil.
func condition(app *gitopsv1alpha1.Application, typ string) *metav1.Condition {
	for i := range app.Status.Conditions {
		if app.Status.Conditions[i].Type == typ {
			return &app.Status.Conditions[i]
		}
	}
	return nil
}

func describeConditions(conds []metav1.Condition) string {
	s := ""
	for _, c := range conds {
		s += fmt.Sprintf("[%s=%s %s: %s] ", c.Type, c.Status, c.Reason, c.Message)
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
