// Package applicationset is the controller of ApplicationSets: it runs each set's generators, renders
// its template once per set of parameters, checks what each generated Application names against
// the set's ServiceAccount (SubjectAccessReviews), and creates, updates and deletes the
// Applications it owns as the set's sync policy allows. Status lists them with their sync and
// health.
package applicationset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller/loop"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/scheme"
	informers "github.com/ferry-gitops/ferry/pkg/generated/informers/externalversions"
	listers "github.com/ferry-gitops/ferry/pkg/generated/listers/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/generators"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// Labels, annotations and finalizer on what a set owns.
const (
	// SetLabel on a generated Application names the ApplicationSet that made it.
	SetLabel = "gitops.ferry.dev/application-set"
	// Finalizer keeps a deleted set until the Applications it generated are deleted.
	Finalizer = "gitops.ferry.dev/application-set"
	// FieldManager writes generated Applications.
	FieldManager = "ferry-applicationset"
	// maxStatusApplications bounds status.applications.
	maxStatusApplications = 1000
)

// Condition reasons of an ApplicationSet's Ready condition.
const (
	ReasonGenerated      = "Generated"
	ReasonGenerateFailed = "GenerateFailed"
	ReasonTemplateFailed = "TemplateFailed"
	ReasonForbidden      = "Forbidden"
	ReasonApplyFailed    = "ApplyFailed"
)

// Config holds what the ApplicationSet controller needs.
type Config struct {
	Ferry versioned.Interface
	// Kube is the cluster Ferry runs in: SubjectAccessReviews and Events.
	Kube kubernetes.Interface
	// Engine reads repositories for git generators, through the shared Git cache.
	Engine *engine.Engine
	// Tenancy says which ServiceAccount a set's Applications act as.
	Tenancy tenancy.Policy
	// Interval is how often each set generates again (a git generator's branch moves); zero
	// means 3 minutes. Changes of sets, Clusters and generated Applications are acted on at once.
	Interval time.Duration
	// Workers is how many sets generate at once; zero means 2.
	Workers int
	// Templates makes the Applications of a set's template, one per set of parameters; nil runs
	// generators.RenderAll in this process. ferry-apiserver runs them in a render worker
	// (worker.Pool.Templates), where a template that never ends is stopped at a deadline.
	Templates func(tmpl gitopsv1alpha1.ApplicationSetTemplate, params []generators.Params) ([]*gitopsv1alpha1.Application, error)
}

// Controller reconciles ApplicationSets.
type Controller struct {
	cfg      Config
	sets     listers.ApplicationSetLister
	apps     listers.ApplicationLister
	clusters listers.ClusterLister
	synced   []cache.InformerSynced
	factory  informers.SharedInformerFactory
	appsInf  informers.SharedInformerFactory
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	events   record.EventBroadcaster
	// resolve names a source's branch or tag by its commit, for rolling syncs.
	resolve func(ctx context.Context, namespace string, src engine.SourceAt) (string, error)
}

// New builds the controller; Run starts it.
func New(cfg Config) *Controller {
	if cfg.Interval == 0 {
		cfg.Interval = 3 * time.Minute
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	factory := informers.NewSharedInformerFactory(cfg.Ferry, 0)
	// Only the Applications sets generated: this replica decodes no event of the others.
	generatedApps := informers.NewSharedInformerFactoryWithOptions(cfg.Ferry, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.LabelSelector = SetLabel
	}))
	setInf := factory.Gitops().V1alpha1().ApplicationSets()
	appInf := generatedApps.Gitops().V1alpha1().Applications()
	clusterInf := factory.Gitops().V1alpha1().Clusters()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		cfg:      cfg,
		sets:     setInf.Lister(),
		apps:     appInf.Lister(),
		clusters: clusterInf.Lister(),
		synced:   []cache.InformerSynced{setInf.Informer().HasSynced, appInf.Informer().HasSynced, clusterInf.Informer().HasSynced},
		factory:  factory,
		appsInf:  generatedApps,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "applicationsets"}),
		events:   broadcaster,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "ferry"}),
	}
	c.resolve = c.resolveWithEngine
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Kube.CoreV1().Events("")})
	_, _ = setInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*gitopsv1alpha1.ApplicationSet), cur.(*gitopsv1alpha1.ApplicationSet)
			if o.Generation != n.Generation || !n.DeletionTimestamp.Equal(o.DeletionTimestamp) {
				c.enqueue(cur)
			}
		},
		DeleteFunc: c.enqueue,
	})
	// A generated Application that changed (by hand, or its status) is looked at again by its set.
	owner := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if app, ok := obj.(*gitopsv1alpha1.Application); ok && app.Labels[SetLabel] != "" {
			c.queue.Add(cache.NewObjectName(app.Namespace, app.Labels[SetLabel]).String())
		}
	}
	_, _ = appInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: owner, UpdateFunc: func(_, cur any) { owner(cur) }, DeleteFunc: owner,
	})
	// A Cluster registered, relabelled or removed may change what clusters generators make.
	allSets := func(any) {
		sets, _ := c.sets.List(labels.Everything())
		for _, s := range sets {
			c.enqueue(s)
		}
	}
	_, _ = clusterInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: allSets,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*gitopsv1alpha1.Cluster), cur.(*gitopsv1alpha1.Cluster)
			if !apiequality.Semantic.DeepEqual(o.Labels, n.Labels) || o.Spec.Server != n.Spec.Server {
				allSets(cur)
			}
		},
		DeleteFunc: allSets,
	})
	return c
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		c.queue.Add(key)
	}
}

// Run starts the informers and workers and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	defer c.events.Shutdown()
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithName("applicationsets"))
	c.factory.Start(ctx.Done())
	c.appsInf.Start(ctx.Done())
	_ = loop.Run(ctx, c.queue, c.reconcileKey, loop.Options{Synced: c.synced, Workers: c.cfg.Workers, KeyName: "applicationset"})
}

// reconcileKey reconciles one set, and has it generate again at the interval: a git
// generator's branch moves without an event.
func (c *Controller) reconcileKey(ctx context.Context, key string) (loop.Result, error) {
	ns, name, _ := strings.Cut(key, "/")
	if err := c.reconcile(ctx, ns, name); err != nil {
		return loop.Result{}, err
	}
	return loop.Result{RequeueAfter: c.cfg.Interval}, nil
}

// generated is the outcome of one generation: the Applications to have, and the ones the
// set's ServiceAccount may not make (by name, with why).
type generated struct {
	apps      []*gitopsv1alpha1.Application
	refused   map[string]string
	revision  string
	reason    string
	failure   error
	refusedAt []string
	// rollout, for a set with a rolling sync, says which Applications wait for their step.
	rollout *rollout
}

func (c *Controller) reconcile(ctx context.Context, ns, name string) error {
	set, err := c.sets.ApplicationSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if set.DeletionTimestamp != nil {
		return c.finalize(ctx, set)
	}
	if !hasFinalizer(set) {
		set = set.DeepCopy()
		set.Finalizers = append(set.Finalizers, Finalizer)
		if set, err = c.cfg.Ferry.GitopsV1alpha1().ApplicationSets(ns).Update(ctx, set, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			return err
		}
	}
	owned, err := c.owned(set)
	if err != nil {
		return err
	}
	gen := c.generate(ctx, set, owned)
	applyErr := error(nil)
	if gen.failure == nil {
		if rolling(set) {
			plan, err := planRollout(set, gen.apps, owned)
			if err != nil {
				gen.reason, gen.failure = ReasonGenerateFailed, err
				return c.writeStatus(ctx, set, gen, nil)
			}
			gen.rollout = &plan
		}
		applyErr = c.apply(ctx, set, gen, owned)
	}
	return errors.Join(applyErr, c.writeStatus(ctx, set, gen, applyErr))
}

// rolling: the set rolls changes out step by step.
func rolling(set *gitopsv1alpha1.ApplicationSet) bool {
	return set.Spec.Strategy != nil && set.Spec.Strategy.RollingSync != nil
}

// owned are the Applications of the set's namespace that it generated, by name.
func (c *Controller) owned(set *gitopsv1alpha1.ApplicationSet) (map[string]*gitopsv1alpha1.Application, error) {
	apps, err := c.apps.Applications(set.Namespace).List(labels.SelectorFromSet(labels.Set{SetLabel: set.Name}))
	if err != nil {
		return nil, err
	}
	out := map[string]*gitopsv1alpha1.Application{}
	for _, a := range apps {
		if metav1.IsControlledBy(a, set) {
			out[a.Name] = a
		}
	}
	return out, nil
}

// generate runs the generators and the template, and the checks of the set's ServiceAccount.
func (c *Controller) generate(ctx context.Context, set *gitopsv1alpha1.ApplicationSet, owned map[string]*gitopsv1alpha1.Application) generated {
	gen := generated{refused: map[string]string{}}
	sa := c.cfg.Tenancy.ServiceAccount(set.Namespace, set.Spec.ServiceAccountName)
	var mayUse func(string) (bool, error)
	if sa != "" {
		mayUse = func(cluster string) (bool, error) {
			return c.allowed(ctx, set.Namespace, sa, gitopsv1alpha1.GroupName, "use", "clusters", "", cluster)
		}
	}
	res, err := generators.Generate(ctx, set.Spec, generators.Sources{
		Clusters: func() ([]*gitopsv1alpha1.Cluster, error) { return c.clusters.List(labels.Everything()) },
		MayUse:   mayUse,
		Repo: func(ctx context.Context, repoURL, revision, credentialsRef string) (string, generators.Repo, error) {
			return c.repo(ctx, set, repoURL, revision, credentialsRef)
		},
	})
	gen.revision = res.GitRevision
	if err != nil {
		gen.reason, gen.failure = ReasonGenerateFailed, err
		return gen
	}
	templates := c.cfg.Templates
	if templates == nil {
		templates = generators.RenderAll
	}
	apps, err := templates(set.Spec.Template, res.Params)
	if err != nil {
		gen.reason, gen.failure = ReasonTemplateFailed, err
		return gen
	}
	seen := map[string]int{}
	for i, app := range apps {
		if j, dup := seen[app.Name]; dup {
			gen.reason, gen.failure = ReasonTemplateFailed, fmt.Errorf("parameters %d and %d both make Application %q: give spec.template.metadata.name a parameter that tells them apart", j, i, app.Name)
			return gen
		}
		seen[app.Name] = i
		if named := app.Spec.ServiceAccountName; named != "" && named != set.Spec.ServiceAccountName {
			gen.reason, gen.failure = ReasonTemplateFailed, fmt.Errorf("spec.template.spec.serviceAccountName %q: generated Applications act as the set's spec.serviceAccountName", named)
			return gen
		}
		app.Namespace = set.Namespace
		app.Spec.ServiceAccountName = set.Spec.ServiceAccountName
		if why, err := c.authorize(ctx, set.Namespace, sa, app); err != nil {
			gen.reason, gen.failure = ReasonGenerateFailed, err
			return gen
		} else if why != "" {
			gen.refused[app.Name] = why
			gen.refusedAt = append(gen.refusedAt, app.Name)
			continue
		}
		gen.apps = append(gen.apps, c.owning(set, app))
	}
	if rolling(set) {
		if at, ok := newestRefresh(owned); ok {
			ctx = source.WithNotBefore(ctx, at)
		}
		resolved := map[string]string{}
		for _, app := range gen.apps {
			if err := c.pinRevisions(ctx, app, resolved); err != nil {
				gen.reason, gen.failure = ReasonGenerateFailed, err
				return gen
			}
		}
	}
	return gen
}

// repo resolves a git generator's revision through the shared Git cache: fetched once per
// commit, however many Applications it then makes (they read the same cached commit).
func (c *Controller) repo(ctx context.Context, set *gitopsv1alpha1.ApplicationSet, repoURL, revision, credentialsRef string) (string, generators.Repo, error) {
	sha, err := c.resolveRevision(ctx, set.Namespace, repoURL, revision, credentialsRef, "credentialsRef")
	if err != nil {
		return "", nil, err
	}
	return sha, cachedRepo{cache: c.cfg.Engine.Source(), url: repoURL, sha: sha}, nil
}

// resolveRevision names revision of repoURL ("" is HEAD) by its commit, through the shared Git
// cache, with the credentials of the Secret credentialsRef of namespace (field names it in
// errors); "" reads without credentials.
func (c *Controller) resolveRevision(ctx context.Context, namespace, repoURL, revision, credentialsRef, field string) (string, error) {
	if c.cfg.Engine == nil {
		return "", fmt.Errorf("this server reads no repositories")
	}
	var creds *source.Credentials
	if credentialsRef != "" {
		var err error
		if creds, err = c.cfg.Engine.Credentials(ctx, namespace, credentialsRef, field); err != nil {
			return "", err
		}
	}
	return c.cfg.Engine.Source().Resolve(ctx, repoURL, revision, creds)
}

type cachedRepo struct {
	cache *source.Cache
	url   string
	sha   string
}

func (r cachedRepo) List() ([]string, []string, error) { return r.cache.ListTree(r.url, r.sha, 200000) }

func (r cachedRepo) ReadFile(name string, maxBytes int64) ([]byte, error) {
	return r.cache.ReadFile(r.url, r.sha, name, maxBytes)
}

// authorize checks what a generated Application names against the set's ServiceAccount (sa, in
// namespace; empty acts as Ferry and is not checked), as the Application API checks its writer:
// use on its Cluster, get on its credentials and decryption Secrets, get on Applications of other namespaces it
// depends on. why is empty when allowed.
func (c *Controller) authorize(ctx context.Context, namespace, sa string, app *gitopsv1alpha1.Application) (why string, err error) {
	if sa == "" {
		return "", nil
	}
	type check struct{ field, group, verb, resource, namespace, name string }
	var checks []check
	if cl := app.Spec.Destination.Cluster; cl != "" {
		checks = append(checks, check{"spec.destination.cluster", gitopsv1alpha1.GroupName, "use", "clusters", "", cl})
	}
	for _, src := range engine.Sources(app) {
		if ref := src.CredentialsRef; ref != nil {
			checks = append(checks, check{src.Field + ".credentialsRef", "", "get", "secrets", namespace, ref.Name})
		}
	}
	if d := app.Spec.Decryption; d != nil && d.SecretRef != nil {
		checks = append(checks, check{"spec.decryption.secretRef", "", "get", "secrets", namespace, d.SecretRef.Name})
	}
	for i, d := range app.Spec.DependsOn {
		if d.Namespace != "" && d.Namespace != namespace {
			checks = append(checks, check{fmt.Sprintf("spec.dependsOn[%d]", i), gitopsv1alpha1.GroupName, "get", "applications", d.Namespace, d.Name})
		}
	}
	for _, ch := range checks {
		allowed, err := c.allowed(ctx, namespace, sa, ch.group, ch.verb, ch.resource, ch.namespace, ch.name)
		if err != nil {
			return "", err
		}
		if !allowed {
			what := ch.resource[:len(ch.resource)-1] + " " + ch.name
			if ch.namespace != "" {
				what = ch.resource[:len(ch.resource)-1] + " " + ch.namespace + "/" + ch.name
			}
			return fmt.Sprintf("%s: serviceaccount %s/%s may not %s %s", ch.field, namespace, sa, ch.verb, what), nil
		}
	}
	return "", nil
}

// allowed asks kube-apiserver (a SubjectAccessReview) whether ServiceAccount sa of namespace may
// verb the resource (of group) name in resourceNamespace.
func (c *Controller) allowed(ctx context.Context, namespace, sa, group, verb, resource, resourceNamespace, name string) (bool, error) {
	user := serviceaccount.MakeUsername(namespace, sa)
	review, err := c.cfg.Kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: serviceaccount.MakeGroupNames(namespace),
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group: group, Verb: verb, Resource: resource, Namespace: resourceNamespace, Name: name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("asking whether %s may %s %s %s: %w", user, verb, resource, name, err)
	}
	return review.Status.Allowed, nil
}

// owning stamps a generated Application with its set: label, owner reference, and the
// deletion policy that keeps its objects when preserveResourcesOnDeletion says so.
func (c *Controller) owning(set *gitopsv1alpha1.ApplicationSet, app *gitopsv1alpha1.Application) *gitopsv1alpha1.Application {
	if app.Labels == nil {
		app.Labels = map[string]string{}
	}
	app.Labels[SetLabel] = set.Name
	if set.Spec.SyncPolicy.PreserveResourcesOnDeletion {
		if app.Annotations == nil {
			app.Annotations = map[string]string{}
		}
		app.Annotations[gitopsv1alpha1.DeletionPolicyAnnotation] = gitopsv1alpha1.DeletionPolicyOrphan
	}
	t := true
	app.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: gitopsv1alpha1.SchemeGroupVersion.String(), Kind: "ApplicationSet",
		Name: set.Name, UID: set.UID, Controller: &t, BlockOwnerDeletion: &t,
	}}
	return app
}

// apply creates, updates and deletes the set's Applications as its sync policy allows.
func (c *Controller) apply(ctx context.Context, set *gitopsv1alpha1.ApplicationSet, gen generated, owned map[string]*gitopsv1alpha1.Application) error {
	policy := set.Spec.SyncPolicy.ApplicationsSync
	client := c.cfg.Ferry.GitopsV1alpha1().Applications(set.Namespace)
	var errs []error
	want := map[string]bool{}
	for _, app := range gen.apps {
		want[app.Name] = true
		if gen.rollout != nil && gen.rollout.hold[app.Name] {
			continue // its step has not come: it keeps what it has, or is not made yet
		}
		cur, ok := owned[app.Name]
		if !ok {
			// The cache holds only what sets generated: a name taken by another Application
			// shows as AlreadyExists (or, should this set's own creation not be cached yet, is
			// looked at again on the next pass, when it is).
			_, err := client.Create(ctx, app, metav1.CreateOptions{FieldManager: FieldManager})
			if apierrors.IsAlreadyExists(err) {
				if existing, getErr := client.Get(ctx, app.Name, metav1.GetOptions{}); getErr == nil && metav1.IsControlledBy(existing, set) {
					continue
				}
				errs = append(errs, fmt.Errorf("an Application %s exists that this set did not generate: rename it or the template", app.Name))
				continue
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("creating Application %s: %w", app.Name, err))
				continue
			}
			c.recorder.Eventf(set, corev1.EventTypeNormal, "Created", "created Application %s", app.Name)
			continue
		}
		if policy == gitopsv1alpha1.ApplicationsSyncCreateOnly || upToDate(cur, app) {
			continue
		}
		updated := cur.DeepCopy()
		updated.Spec = app.Spec
		updated.Labels = mergeMaps(cur.Labels, app.Labels)
		updated.Annotations = mergeMaps(cur.Annotations, app.Annotations)
		updated.OwnerReferences = app.OwnerReferences
		if _, err := client.Update(ctx, updated, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
			errs = append(errs, fmt.Errorf("updating Application %s: %w", app.Name, err))
			continue
		}
		c.recorder.Eventf(set, corev1.EventTypeNormal, "Updated", "updated Application %s", app.Name)
	}
	if policy == "" || policy == gitopsv1alpha1.ApplicationsSyncSync {
		for name, app := range owned {
			// One the set's ServiceAccount may no longer make is left as it is, and reported:
			// deleting it would delete what it deployed because of a permission change.
			if want[name] || gen.refused[name] != "" || app.DeletionTimestamp != nil {
				continue
			}
			if err := client.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &app.UID}}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting Application %s: %w", name, err))
				continue
			}
			c.recorder.Eventf(set, corev1.EventTypeNormal, "Deleted", "deleted Application %s, no longer generated", name)
		}
	}
	return errors.Join(errs...)
}

// upToDate: the generated Application's spec, labels and annotations are what the template
// makes (other labels and annotations are left alone).
func upToDate(cur, want *gitopsv1alpha1.Application) bool {
	if !apiequality.Semantic.DeepEqual(cur.Spec, want.Spec) || !apiequality.Semantic.DeepEqual(cur.OwnerReferences, want.OwnerReferences) {
		return false
	}
	for k, v := range want.Labels {
		if cur.Labels[k] != v {
			return false
		}
	}
	for k, v := range want.Annotations {
		if cur.Annotations[k] != v {
			return false
		}
	}
	return true
}

func mergeMaps(base, over map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// writeStatus records what the generation made and how its Applications are.
func (c *Controller) writeStatus(ctx context.Context, set *gitopsv1alpha1.ApplicationSet, gen generated, applyErr error) error {
	st := set.Status.DeepCopy()
	st.ObservedGeneration = set.Generation
	if gen.revision != "" {
		st.GitRevision = gen.revision
	}
	owned, err := c.owned(set)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(owned))
	for n := range owned {
		names = append(names, n)
	}
	for _, a := range gen.apps {
		if owned[a.Name] == nil {
			names = append(names, a.Name) // created a moment ago; the cache has not seen it
		}
	}
	sort.Strings(names)
	st.Applications = nil
	for _, n := range names {
		if len(st.Applications) == maxStatusApplications {
			break
		}
		entry := gitopsv1alpha1.ApplicationSetApplicationStatus{Name: n}
		if gen.rollout != nil {
			entry.Step = gen.rollout.stepOf[n]
		}
		if a := owned[n]; a != nil {
			entry.Cluster, entry.Sync, entry.Health = a.Spec.Destination.Cluster, a.Status.Sync.Status, a.Status.Health.Status
		}
		st.Applications = append(st.Applications, entry)
	}
	ready := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: ReasonGenerated, ObservedGeneration: set.Generation,
		Message: fmt.Sprintf("%d Applications generated", len(gen.apps))}
	switch {
	case gen.failure != nil:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, gen.reason, truncate(gen.failure.Error())
	case len(gen.refusedAt) > 0:
		var parts []string
		for _, n := range gen.refusedAt {
			parts = append(parts, fmt.Sprintf("Application %s not generated: %s", n, gen.refused[n]))
		}
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, ReasonForbidden, truncate(strings.Join(parts, "; "))
	case applyErr != nil:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, ReasonApplyFailed, truncate(applyErr.Error())
	}
	if prev := meta.FindStatusCondition(set.Status.Conditions, "Ready"); (prev == nil || prev.Message != ready.Message) && ready.Status == metav1.ConditionFalse {
		c.recorder.Event(set, corev1.EventTypeWarning, ready.Reason, ready.Message)
	}
	meta.SetStatusCondition(&st.Conditions, ready)
	c.rolloutStatus(set, st, gen)
	if apiequality.Semantic.DeepEqual(*st, set.Status) {
		return nil
	}
	updated := set.DeepCopy()
	updated.Status = *st
	_, err = c.cfg.Ferry.GitopsV1alpha1().ApplicationSets(set.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: FieldManager})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// rolloutStatus records where a rolling sync stands, and tells of a step's change in an
// Event. A generation that failed leaves the last answer as it was; a set without a rolling
// sync has none.
func (c *Controller) rolloutStatus(set *gitopsv1alpha1.ApplicationSet, st *gitopsv1alpha1.ApplicationSetStatus, gen generated) {
	if !rolling(set) {
		st.Steps = nil
		meta.RemoveStatusCondition(&st.Conditions, ConditionRolledOut)
		return
	}
	if gen.rollout == nil {
		return
	}
	st.Steps = gen.rollout.steps
	cond := gen.rollout.cond
	if prev := meta.FindStatusCondition(set.Status.Conditions, ConditionRolledOut); prev == nil || prev.Message != cond.Message {
		switch cond.Reason {
		case ReasonRolloutDegraded:
			c.recorder.Event(set, corev1.EventTypeWarning, "RolloutDegraded", cond.Message)
		case ReasonRolloutComplete:
			c.recorder.Event(set, corev1.EventTypeNormal, "RolledOut", cond.Message)
		default:
			c.recorder.Event(set, corev1.EventTypeNormal, "Rollout"+cond.Reason, cond.Message)
		}
	}
	meta.SetStatusCondition(&st.Conditions, cond)
}

func truncate(s string) string {
	const max = 1024
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}

func hasFinalizer(set *gitopsv1alpha1.ApplicationSet) bool {
	for _, f := range set.Finalizers {
		if f == Finalizer {
			return true
		}
	}
	return false
}

// finalize deletes the Applications a deleted set generated (each prunes what it deployed
// unless it carries the orphan deletion policy), then lets the set go.
func (c *Controller) finalize(ctx context.Context, set *gitopsv1alpha1.ApplicationSet) error {
	if !hasFinalizer(set) {
		return nil
	}
	owned, err := c.owned(set)
	if err != nil {
		return err
	}
	client := c.cfg.Ferry.GitopsV1alpha1().Applications(set.Namespace)
	for name, app := range owned {
		if app.DeletionTimestamp != nil {
			continue
		}
		if err := client.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &app.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	set = set.DeepCopy()
	var kept []string
	for _, f := range set.Finalizers {
		if f != Finalizer {
			kept = append(kept, f)
		}
	}
	set.Finalizers = kept
	_, err = c.cfg.Ferry.GitopsV1alpha1().ApplicationSets(set.Namespace).Update(ctx, set, metav1.UpdateOptions{FieldManager: FieldManager})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
