package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

const (
	// FieldManager is the server-side apply field manager of every write Ferry makes.
	FieldManager = "ferry"
	// TrackingAnnotation names the Application that owns an object, and the object itself
	// (the API's gitopsv1alpha1.TrackingAnnotation).
	TrackingAnnotation = gitopsv1alpha1.TrackingAnnotation
	// AppLabel selects every object of one Application, for watches: <app-namespace>.<app-name>,
	// or a hash of it when that is too long for a label value.
	AppLabel = "gitops.ferry.dev/app"
)

// App identifies the Application an apply is for.
type App struct {
	Namespace string
	Name      string
}

// Key is "namespace/name", the form of an informer's key (cache.ObjectName), in which Ferry
// names an Application in annotations and work queues.
func (a App) Key() string { return cache.NewObjectName(a.Namespace, a.Name).String() }

// LabelValue is the value of AppLabel for this Application.
func (a App) LabelValue() string {
	v := a.Namespace + "." + a.Name
	if len(v) <= 63 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "h-" + hex.EncodeToString(sum[:])[:40]
}

// ObjectRef identifies one object in the cluster.
type ObjectRef struct {
	Group, Version, Kind, Namespace, Name string
}

func (r ObjectRef) String() string {
	gk := r.Kind
	if r.Group != "" {
		gk += "." + r.Group
	}
	if r.Namespace == "" {
		return gk + "/" + r.Name
	}
	return gk + "/" + r.Namespace + "/" + r.Name
}

// Key identifies the object across API versions: group/Kind/namespace/name.
func (r ObjectRef) Key() string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// RefOf returns the reference of an object.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// TrackingID is the tracking annotation's value for an object of app.
func TrackingID(app App, ref ObjectRef) string {
	return fmt.Sprintf("%s/%s:%s/%s:%s/%s", app.Namespace, app.Name, ref.Group, ref.Kind, ref.Namespace, ref.Name)
}

// Owned reports whether the live object carries this Application's tracking annotation for
// itself, the condition for pruning it.
func Owned(app App, live *unstructured.Unstructured) bool {
	return live != nil && live.GetAnnotations()[TrackingAnnotation] == TrackingID(app, RefOf(live))
}

// IgnoreRule excludes fields of matching objects from drift and from apply.
type IgnoreRule struct {
	Group, Kind, Name, Namespace string
	JSONPointers                 []string
}

// Options are the settings of one apply.
type Options struct {
	// DefaultNamespace is given to namespaced objects that name none.
	DefaultNamespace string
	// DryRun makes every request a server-side dry run: nothing changes.
	DryRun bool
	// Ignore lists fields Ferry must neither report as drift nor overwrite.
	Ignore []IgnoreRule
	// Concurrency of requests to the cluster. Default 8.
	Concurrency int
	// WaitTimeout bounds the wait for CRDs and Namespaces to be ready. Default 1m.
	WaitTimeout time.Duration
	// Cached, when set, returns the live object from a watch cache (false when it has none).
	// An existing object whose cached copy is as current as the dry run's answer is judged
	// from the two: unchanged costs no request, changed costs one apply. Without it, or when
	// the cache lags, fluxcd/pkg/ssa reads and dry-runs the object again before applying.
	Cached func(ObjectRef) (*unstructured.Unstructured, bool)
}

// Action is what apply did with one object.
type Action string

// Actions.
const (
	Created    Action = "Created"
	Configured Action = "Configured"
	Unchanged  Action = "Unchanged"
	Deleted    Action = "Deleted"
	Skipped    Action = "Skipped"
	// Shared is an object another Application manages: never applied nor pruned by this one.
	Shared Action = "SharedResource"
)

// Result is the outcome for one object.
type Result struct {
	Ref    ObjectRef
	Action Action
	// Owner is, for a Shared object, the tracking annotation of the Application that manages it.
	Owner string
	// Adopted: the object existed without any Application's tracking annotation, and this apply
	// took it over.
	Adopted bool
	// Kept says why a prune left the object (Skipped) alone on purpose: its sync options.
	Kept string
}

// OwnerApp is the "namespace/name" of the Application a tracking annotation names.
func OwnerApp(tracking string) string {
	app, _, _ := strings.Cut(tracking, ":")
	return app
}
