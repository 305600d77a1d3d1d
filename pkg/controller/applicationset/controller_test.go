package applicationset

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

const (
	ns      = "team-a"
	setName = "apps"
	setUID  = types.UID("set-uid")
)

// fixture is the controller between a fake Ferry API and a fake Kubernetes API (SubjectAccessReviews,
// Events), its informers started and synced. Tests drive one generation with sync, as a worker
// does for a queued set, and read what it did from the fake APIs.
type fixture struct {
	t     *testing.T
	ferry *fake.Clientset
	kube  *kubefake.Clientset
	ctrl  *Controller
}

// newFixture stores objs (ApplicationSets, Applications, Clusters) and starts the controller over
// them. may answers the SubjectAccessReviews the controller asks; nil allows everything.
func newFixture(t *testing.T, may func(authorizationv1.SubjectAccessReviewSpec) bool, objs ...runtime.Object) *fixture {
	t.Helper()
	// The simple tracker: NewClientset's field-managed one has no schema for Ferry's types.
	ferry := fake.NewSimpleClientset(objs...) //nolint:staticcheck
	kube := kubefake.NewSimpleClientset()     //nolint:staticcheck
	kube.PrependReactor("create", "subjectaccessreviews", func(action clienttesting.Action) (bool, runtime.Object, error) {
		sar := action.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview).DeepCopy()
		sar.Status.Allowed = may == nil || may(sar.Spec)
		return true, sar, nil
	})
	ctrl := New(Config{Ferry: ferry, Kube: kube})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		ctrl.events.Shutdown()
	})
	ctrl.factory.Start(ctx.Done())
	ctrl.appsInf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), ctrl.synced...) {
		t.Fatal("the controller's caches did not sync")
	}
	return &fixture{t: t, ferry: ferry, kube: kube, ctrl: ctrl}
}

// sync runs one generation of the set, as a worker does.
func (f *fixture) sync() {
	f.t.Helper()
	if err := f.ctrl.reconcile(f.t.Context(), ns, setName); err != nil {
		f.t.Logf("reconcile: %v", err)
	}
}

// apps are the Applications of the namespace, by name.
func (f *fixture) apps() map[string]*gitopsv1alpha1.Application {
	f.t.Helper()
	list, err := f.ferry.GitopsV1alpha1().Applications(ns).List(f.t.Context(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]*gitopsv1alpha1.Application{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (f *fixture) appNames() []string {
	var names []string
	for n := range f.apps() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ready is the set's Ready condition as stored.
func (f *fixture) ready() metav1.Condition {
	f.t.Helper()
	set, err := f.ferry.GitopsV1alpha1().ApplicationSets(ns).Get(f.t.Context(), setName, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	c := meta.FindStatusCondition(set.Status.Conditions, "Ready")
	if c == nil {
		f.t.Fatalf("the set has no Ready condition; status: %+v", set.Status)
	}
	return *c
}

// waitEvent waits for an Event of the set with type, reason and a message containing text.
func (f *fixture) waitEvent(eventType, reason, text string) {
	f.t.Helper()
	eventually.Until(f.t, 10*time.Second, 20*time.Millisecond, fmt.Sprintf("a %s Event %s %q", eventType, reason, text), func() (bool, string) {
		events, err := f.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range events.Items {
			if e.InvolvedObject.Name == setName && e.Type == eventType && e.Reason == reason && strings.Contains(e.Message, text) {
				return true, ""
			}
			seen = append(seen, e.Type+" "+e.Reason+": "+e.Message)
		}
		return false, strings.Join(seen, "; ")
	})
}

func elements(objs ...string) []runtime.RawExtension {
	out := make([]runtime.RawExtension, len(objs))
	for i, o := range objs {
		out[i] = runtime.RawExtension{Raw: []byte(o)}
	}
	return out
}

// listSet is a set generating, per element, an Application named after it deploying apps/<name>
// into namespace <name>, labelled with the element's env.
func listSet(mutate func(*gitopsv1alpha1.ApplicationSet), elems ...string) *gitopsv1alpha1.ApplicationSet {
	set := &gitopsv1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Name: setName, Namespace: ns, UID: setUID, Generation: 1},
		Spec: gitopsv1alpha1.ApplicationSetSpec{
			Generators: []gitopsv1alpha1.ApplicationSetGenerator{{List: &gitopsv1alpha1.ListGenerator{Elements: elements(elems...)}}},
			Template: gitopsv1alpha1.ApplicationSetTemplate{
				Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: "{{.name}}", Labels: map[string]string{"env": "{{.env}}"}},
				Spec: gitopsv1alpha1.ApplicationSpec{
					Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example/apps.git", Path: "apps/{{.name}}"},
					Destination: gitopsv1alpha1.ApplicationDestination{Namespace: "{{.name}}"},
				},
			},
		},
	}
	if mutate != nil {
		mutate(set)
	}
	return set
}

// generatedApp is an Application as the set generated it earlier, deploying path.
func generatedApp(name, path string) *gitopsv1alpha1.Application {
	t := true
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID("uid-" + name),
			Labels: map[string]string{SetLabel: setName, "env": "prod"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: gitopsv1alpha1.SchemeGroupVersion.String(), Kind: "ApplicationSet",
				Name: setName, UID: setUID, Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example/apps.git", Path: path},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: name},
		},
	}
}

func TestListGeneratorMakesOneApplicationPerElementLabelledAndOwnedByTheSet(t *testing.T) {
	f := newFixture(t, nil, listSet(nil, `{"name":"a","env":"prod"}`, `{"name":"b","env":"dev"}`))
	f.sync()

	apps := f.apps()
	if got := f.appNames(); strings.Join(got, ",") != "a,b" {
		t.Fatalf("Applications %v, want a and b", got)
	}
	for name, env := range map[string]string{"a": "prod", "b": "dev"} {
		app := apps[name]
		if app.Spec.Source.Path != "apps/"+name || app.Spec.Destination.Namespace != name || app.Spec.Source.RepoURL != "https://git.example/apps.git" {
			t.Errorf("Application %s: spec %+v, want the template over its element", name, app.Spec)
		}
		if app.Labels["env"] != env || app.Labels[SetLabel] != setName {
			t.Errorf("Application %s: labels %v, want env=%s and %s=%s", name, app.Labels, env, SetLabel, setName)
		}
		if ref := metav1.GetControllerOf(app); ref == nil || ref.Kind != "ApplicationSet" || ref.Name != setName || ref.UID != setUID {
			t.Errorf("Application %s: controller %+v, want the ApplicationSet %s", name, ref, setName)
		}
		if _, orphan := app.Annotations[gitopsv1alpha1.DeletionPolicyAnnotation]; orphan {
			t.Errorf("Application %s carries a deletion policy the set did not ask for: %v", name, app.Annotations)
		}
	}
	if c := f.ready(); c.Status != metav1.ConditionTrue || c.Reason != ReasonGenerated || c.Message != "2 Applications generated" {
		t.Errorf("Ready: %s %s %q, want True Generated \"2 Applications generated\"", c.Status, c.Reason, c.Message)
	}
	f.waitEvent(corev1.EventTypeNormal, "Created", "created Application b")
}

// policyFixture: the set once generated a (at apps/old) and gone (no longer in its list); its
// elements now make a (whose path the template changed) and b.
func policyFixture(t *testing.T, policy gitopsv1alpha1.ApplicationsSyncPolicy) *fixture {
	set := listSet(func(s *gitopsv1alpha1.ApplicationSet) {
		s.Spec.SyncPolicy.ApplicationsSync = policy
		s.Spec.Template.Spec.Source.Path = "new/{{.name}}"
	}, `{"name":"a","env":"prod"}`, `{"name":"b","env":"prod"}`)
	f := newFixture(t, nil, set, generatedApp("a", "old/a"), generatedApp("gone", "old/gone"))
	f.sync()
	return f
}

func TestSyncPolicySyncCreatesUpdatesAndDeletes(t *testing.T) {
	f := policyFixture(t, gitopsv1alpha1.ApplicationsSyncSync)
	apps := f.apps()
	if got := f.appNames(); strings.Join(got, ",") != "a,b" {
		t.Fatalf("Applications %v, want a and b (gone deleted)", got)
	}
	if p := apps["a"].Spec.Source.Path; p != "new/a" {
		t.Errorf("a deploys %s, want the template's new/a", p)
	}
	f.waitEvent(corev1.EventTypeNormal, "Deleted", "deleted Application gone")
}

func TestSyncPolicyCreateUpdateNeverDeletes(t *testing.T) {
	f := policyFixture(t, gitopsv1alpha1.ApplicationsSyncCreateUpdate)
	apps := f.apps()
	if got := f.appNames(); strings.Join(got, ",") != "a,b,gone" {
		t.Fatalf("Applications %v, want a, b and gone (kept)", got)
	}
	if p := apps["a"].Spec.Source.Path; p != "new/a" {
		t.Errorf("a deploys %s, want the template's new/a", p)
	}
	if p := apps["gone"].Spec.Source.Path; p != "old/gone" {
		t.Errorf("gone deploys %s, want it untouched (old/gone)", p)
	}
	f.waitEvent(corev1.EventTypeNormal, "Updated", "updated Application a")
}

func TestSyncPolicyCreateOnlyNeverUpdatesOrDeletes(t *testing.T) {
	f := policyFixture(t, gitopsv1alpha1.ApplicationsSyncCreateOnly)
	apps := f.apps()
	if got := f.appNames(); strings.Join(got, ",") != "a,b,gone" {
		t.Fatalf("Applications %v, want a, b and gone (kept)", got)
	}
	if p := apps["a"].Spec.Source.Path; p != "old/a" {
		t.Errorf("a deploys %s, want it untouched (old/a)", p)
	}
	if p := apps["b"].Spec.Source.Path; p != "new/b" {
		t.Errorf("b deploys %s, want the template's new/b", p)
	}
}

func TestTemplateNamingAMissingParameterSaysWhichFieldAndChangesNothing(t *testing.T) {
	set := listSet(func(s *gitopsv1alpha1.ApplicationSet) {
		s.Spec.Template.Metadata.Labels["team"] = "{{.team}}"
	}, `{"name":"a","env":"prod"}`, `{"name":"b","env":"prod"}`)
	// gone is no longer in the list: a generation that succeeded would delete it.
	f := newFixture(t, nil, set, generatedApp("gone", "old/gone"))
	f.sync()

	if got := f.appNames(); strings.Join(got, ",") != "gone" {
		t.Errorf("Applications %v, want only gone: a failed template changes nothing", got)
	}
	c := f.ready()
	if c.Status != metav1.ConditionFalse || c.Reason != ReasonTemplateFailed ||
		!strings.Contains(c.Message, "spec.template.metadata.labels.team") || !strings.Contains(c.Message, `no parameter "team"`) {
		t.Errorf("Ready: %s %s %q, want False TemplateFailed naming spec.template.metadata.labels.team and the parameter", c.Status, c.Reason, c.Message)
	}
	f.waitEvent(corev1.EventTypeWarning, ReasonTemplateFailed, "spec.template.metadata.labels.team")
}

func TestTwoParameterSetsMakingTheSameNameAreRefused(t *testing.T) {
	f := newFixture(t, nil, listSet(nil, `{"name":"a","env":"prod"}`, `{"name":"a","env":"dev"}`))
	f.sync()

	if got := f.appNames(); len(got) != 0 {
		t.Errorf("Applications %v, want none", got)
	}
	c := f.ready()
	if c.Status != metav1.ConditionFalse || c.Reason != ReasonTemplateFailed || !strings.Contains(c.Message, `parameters 0 and 1 both make Application "a"`) {
		t.Errorf("Ready: %s %s %q, want False TemplateFailed naming both parameter sets", c.Status, c.Reason, c.Message)
	}
}

func TestAnApplicationNamingAClusterTheServiceAccountMayNotUseIsNotGenerated(t *testing.T) {
	set := listSet(func(s *gitopsv1alpha1.ApplicationSet) {
		s.Spec.ServiceAccountName = "deployer"
		s.Spec.Template.Spec.Destination.Cluster = "{{.cluster}}"
	}, `{"name":"a","env":"prod","cluster":"dev"}`, `{"name":"b","env":"prod","cluster":"prod"}`)
	var asked []string
	f := newFixture(t, func(s authorizationv1.SubjectAccessReviewSpec) bool {
		ra := s.ResourceAttributes
		asked = append(asked, fmt.Sprintf("%s %s %s/%s %s", s.User, ra.Verb, ra.Group, ra.Resource, ra.Name))
		return ra.Resource != "clusters" || ra.Name != "prod"
	}, set)
	f.sync()

	if got := f.appNames(); strings.Join(got, ",") != "a" {
		t.Errorf("Applications %v, want only a (b names Cluster prod)", got)
	}
	want := "system:serviceaccount:team-a:deployer use gitops.ferry.dev/clusters prod"
	if !strings.Contains(strings.Join(asked, "\n"), want) {
		t.Errorf("SubjectAccessReviews asked:\n%s\nwant one for %q", strings.Join(asked, "\n"), want)
	}
	c := f.ready()
	if c.Status != metav1.ConditionFalse || c.Reason != ReasonForbidden ||
		c.Message != "Application b not generated: spec.destination.cluster: serviceaccount team-a/deployer may not use cluster prod" {
		t.Errorf("Ready: %s %s %q, want False Forbidden saying why b is not generated", c.Status, c.Reason, c.Message)
	}
	f.waitEvent(corev1.EventTypeWarning, ReasonForbidden, "Application b not generated")
}

func TestPreserveResourcesOnDeletionGeneratesApplicationsThatOrphanTheirObjects(t *testing.T) {
	f := newFixture(t, nil, listSet(func(s *gitopsv1alpha1.ApplicationSet) {
		s.Spec.SyncPolicy.PreserveResourcesOnDeletion = true
	}, `{"name":"a","env":"prod"}`))
	f.sync()

	app := f.apps()["a"]
	if app == nil {
		t.Fatalf("Applications %v, want a", f.appNames())
	}
	if got := app.Annotations[gitopsv1alpha1.DeletionPolicyAnnotation]; got != gitopsv1alpha1.DeletionPolicyOrphan {
		t.Errorf("a: %s=%q, want %q", gitopsv1alpha1.DeletionPolicyAnnotation, got, gitopsv1alpha1.DeletionPolicyOrphan)
	}
}

func TestClustersGeneratorListsOnlyClustersTheServiceAccountMayUse(t *testing.T) {
	set := &gitopsv1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Name: setName, Namespace: ns, UID: setUID, Generation: 1},
		Spec: gitopsv1alpha1.ApplicationSetSpec{
			ServiceAccountName: "deployer",
			Generators:         []gitopsv1alpha1.ApplicationSetGenerator{{Clusters: &gitopsv1alpha1.ClusterGenerator{}}},
			Template: gitopsv1alpha1.ApplicationSetTemplate{
				Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: "web-{{.name}}"},
				Spec: gitopsv1alpha1.ApplicationSpec{
					Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example/apps.git", Path: "web"},
					Destination: gitopsv1alpha1.ApplicationDestination{Cluster: "{{.name}}", Namespace: "web"},
				},
			},
		},
	}
	cluster := func(name string) *gitopsv1alpha1.Cluster {
		return &gitopsv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: gitopsv1alpha1.ClusterSpec{Server: "https://" + name + ".example:6443"}}
	}
	f := newFixture(t, func(s authorizationv1.SubjectAccessReviewSpec) bool {
		ra := s.ResourceAttributes
		return s.User == "system:serviceaccount:team-a:deployer" && ra.Verb == "use" && ra.Resource == "clusters" && ra.Name != "secret-ops"
	}, set, cluster("dev"), cluster("secret-ops"), cluster("staging"))
	f.sync()

	if got := f.appNames(); strings.Join(got, ",") != "web-dev,web-staging" {
		t.Errorf("Applications %v, want web-dev and web-staging", got)
	}
	// A Cluster the ServiceAccount may not use is not listed at all: nothing was refused.
	if c := f.ready(); c.Status != metav1.ConditionTrue || c.Message != "2 Applications generated" {
		t.Errorf("Ready: %s %s %q, want True \"2 Applications generated\"", c.Status, c.Reason, c.Message)
	}
}

func TestTheSetListsItsApplicationsWithTheirClusterSyncAndHealth(t *testing.T) {
	a := generatedApp("a", "apps/a")
	a.Spec.Destination.Cluster = "dev"
	a.Status.Sync.Status = gitopsv1alpha1.SyncStatusSynced
	a.Status.Health.Status = gitopsv1alpha1.HealthDegraded
	set := listSet(func(s *gitopsv1alpha1.ApplicationSet) {
		s.Spec.Template.Spec.Destination.Cluster = "dev"
	}, `{"name":"a","env":"prod"}`, `{"name":"b","env":"prod"}`)
	f := newFixture(t, nil, set, a)
	f.sync()

	stored, err := f.ferry.GitopsV1alpha1().ApplicationSets(ns).Get(t.Context(), setName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []gitopsv1alpha1.ApplicationSetApplicationStatus{
		{Name: "a", Cluster: "dev", Sync: gitopsv1alpha1.SyncStatusSynced, Health: gitopsv1alpha1.HealthDegraded},
		{Name: "b"}, // created by this generation: its status is not known yet
	}
	if got := stored.Status.Applications; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("status.applications %+v, want %+v", got, want)
	}
}

func TestAnApplicationTheSetDidNotGenerateIsLeftAloneAndReported(t *testing.T) {
	mine := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: ns},
		Spec:       gitopsv1alpha1.ApplicationSpec{Source: gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example/mine.git", Path: "mine"}},
	}
	f := newFixture(t, nil, listSet(nil, `{"name":"a","env":"prod"}`), mine)
	f.sync()

	a := f.apps()["a"]
	if a.Spec.Source.Path != "mine" || a.Labels[SetLabel] != "" || metav1.GetControllerOf(a) != nil {
		t.Errorf("the user's Application a was taken over: %+v", a)
	}
	c := f.ready()
	if c.Status != metav1.ConditionFalse || c.Reason != ReasonApplyFailed || !strings.Contains(c.Message, "an Application a exists that this set did not generate") {
		t.Errorf("Ready: %s %s %q, want False ApplyFailed naming a", c.Status, c.Reason, c.Message)
	}
}

func TestDeletingTheSetDeletesTheApplicationsItGeneratedOnly(t *testing.T) {
	set := listSet(nil, `{"name":"a","env":"prod"}`)
	now := metav1.Now()
	set.DeletionTimestamp = &now
	set.Finalizers = []string{Finalizer}
	other := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: ns}}
	f := newFixture(t, nil, set, generatedApp("a", "apps/a"), generatedApp("gone", "old/gone"), other)
	f.sync()

	if got := f.appNames(); strings.Join(got, ",") != "other" {
		t.Errorf("Applications %v, want only other (a and gone were generated by the set)", got)
	}
	stored, err := f.ferry.GitopsV1alpha1().ApplicationSets(ns).Get(t.Context(), setName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Finalizers) != 0 {
		t.Errorf("the set still has finalizers %v: it would never go", stored.Finalizers)
	}
}
