package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// treeNode is one object of the resource tree: an object of the Application (sync and health
// from its status) or an object it owns (its state as Kubernetes reports it).
type treeNode struct {
	Group                 string
	Kind, Namespace, Name string
	Sync, Health          string
	State                 string // a Pod's phase and readiness, a ReplicaSet's ready replicas
	Children              []treeNode
	Note                  string // why the children could not be read
	Owner                 string // the Application managing a SharedResource, when known
	Logs                  string // a Pod's Logs page
}

// owned says which kinds own which: the tree looks only for these, by ownerReferences.
var owned = map[string]string{
	"apps/Deployment":  "replicasets",
	"apps/ReplicaSet":  "pods",
	"apps/StatefulSet": "pods",
	"apps/DaemonSet":   "pods",
	"batch/CronJob":    "jobs",
	"batch/Job":        "pods",
}

// object is what the tree needs of an owned object.
type object struct {
	Group, Kind, Namespace, Name string
	UID                          types.UID
	Owners                       []metav1.OwnerReference
	State                        string
}

// lister lists, as the person using the UI, the ReplicaSets, Jobs and Pods of a namespace once
// per page, remembering a refusal so it is reported under every node it hides.
type lister struct {
	kube  kubernetes.Interface
	lists map[string][]object
	errs  map[string]error
}

func (l *lister) list(ctx context.Context, resource, ns string) ([]object, error) {
	key := resource + "/" + ns
	if err, ok := l.errs[key]; ok {
		return nil, err
	}
	if v, ok := l.lists[key]; ok || l.kube == nil {
		return v, nil
	}
	var items []runtime.Object
	var err error
	opts := metav1.ListOptions{}
	switch resource {
	case "replicasets":
		var list *appsv1.ReplicaSetList
		if list, err = l.kube.AppsV1().ReplicaSets(ns).List(ctx, opts); err == nil {
			for i := range list.Items {
				items = append(items, &list.Items[i])
			}
		}
	case "jobs":
		var list *batchv1.JobList
		if list, err = l.kube.BatchV1().Jobs(ns).List(ctx, opts); err == nil {
			for i := range list.Items {
				items = append(items, &list.Items[i])
			}
		}
	case "pods":
		var list *corev1.PodList
		if list, err = l.kube.CoreV1().Pods(ns).List(ctx, opts); err == nil {
			for i := range list.Items {
				items = append(items, &list.Items[i])
			}
		}
	}
	if err != nil {
		l.errs[key] = err
		return nil, err
	}
	var out []object
	for _, it := range items {
		if o, ok := toObject(it); ok {
			out = append(out, o)
		}
	}
	l.lists[key] = out
	return out, nil
}

// toObject is what the tree shows of a ReplicaSet, Job or Pod.
func toObject(obj runtime.Object) (object, bool) {
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		return object{Group: "apps", Kind: "ReplicaSet", Namespace: o.Namespace, Name: o.Name, UID: o.UID, Owners: o.OwnerReferences,
			State: fmt.Sprintf("%d/%d ready", o.Status.ReadyReplicas, o.Status.Replicas)}, true
	case *batchv1.Job:
		return object{Group: "batch", Kind: "Job", Namespace: o.Namespace, Name: o.Name, UID: o.UID, Owners: o.OwnerReferences,
			State: fmt.Sprintf("%d succeeded, %d failed, %d active", o.Status.Succeeded, o.Status.Failed, o.Status.Active)}, true
	case *corev1.Pod:
		return object{Kind: "Pod", Namespace: o.Namespace, Name: o.Name, UID: o.UID, Owners: o.OwnerReferences, State: podState(o)}, true
	}
	return object{}, false
}

// ownedBy says whether refs name the owner: by uid when known (owned objects, read from the
// API), else by kind and name, which identify it within the namespace (the Application's
// objects, whose uid its status does not carry).
func ownedBy(refs []metav1.OwnerReference, kind, name string, uid types.UID) bool {
	for _, r := range refs {
		if uid != "" && r.UID == uid || uid == "" && r.Kind == kind && r.Name == name {
			return true
		}
	}
	return false
}

// notPermitted says why children are missing: a 403 in plain words, another error as the API put it.
func notPermitted(err error, resource, ns string) string {
	if apierrors.IsForbidden(err) {
		return "not permitted to list " + resource + " in " + ns
	}
	return "listing " + resource + " in " + ns + " failed: " + apiMessage(err)
}

func podState(p *corev1.Pod) string {
	ready := 0
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%s, %d/%d ready", p.Status.Phase, ready, len(p.Spec.Containers))
}

// children fills n (of API group group, uid when known) with what it owns, as far as the
// person may read, and so on down.
func (l *lister) children(ctx context.Context, n *treeNode, group string, uid types.UID) {
	resource, ok := owned[group+"/"+n.Kind]
	if !ok {
		return
	}
	objs, err := l.list(ctx, resource, n.Namespace)
	if err != nil {
		n.Note = notPermitted(err, resource, n.Namespace)
		return
	}
	for _, o := range objs {
		if !ownedBy(o.Owners, n.Kind, n.Name, uid) {
			continue
		}
		c := treeNode{Group: o.Group, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, State: o.State}
		l.children(ctx, &c, o.Group, o.UID)
		n.Children = append(n.Children, c)
	}
}

// treeView is the page's data: the nodes, or why the objects cannot be read from here.
type treeView struct {
	Nodes  []treeNode
	Notice string
}

func (s *Server) handleTree(w http.ResponseWriter, r *http.Request) {
	p := s.newSubPage(r, "Tree")
	app, err := s.cfg.Client.GitopsV1alpha1().Applications(p.Namespace).Get(r.Context(), p.Name, metav1.GetOptions{})
	if err != nil {
		p.refused(err)
		s.renderSub(w, "tree", p)
		return
	}
	v := s.tree(r.Context(), app)
	v.nameOwners(s.owners(r.Context(), app))
	p.View = v
	if s.cfg.Kube != nil {
		p.Events = "/events?" + url.Values{"view": {"tree"}, "namespace": {p.Namespace}, "name": {p.Name}}.Encode()
	}
	s.renderSub(w, "tree", p)
}

// nameOwners names the Application managing each shared object at the top of the tree.
func (v *treeView) nameOwners(owners map[string]string) {
	for i := range v.Nodes {
		n := &v.Nodes[i]
		n.Owner = owners[resourceKey(n.Group, n.Kind, n.Namespace, n.Name)]
	}
}

// tree is app's tree, read from the API as the person.
func (s *Server) tree(ctx context.Context, app *gitopsv1alpha1.Application) *treeView {
	return s.treeFrom(ctx, app, &lister{kube: s.cfg.Kube, lists: map[string][]object{}, errs: map[string]error{}})
}

// treeFrom is app's tree with what its objects own taken from l.
func (s *Server) treeFrom(ctx context.Context, app *gitopsv1alpha1.Application, l *lister) *treeView {
	v := &treeView{}
	// The UI's kubeconfig reaches the cluster Ferry runs in; another destination's objects are
	// read there by Ferry as the Application's ServiceAccount, which the person is not.
	local := app.Spec.Destination.Cluster == ""
	switch {
	case !local:
		v.Notice = "The objects are on cluster " + app.Spec.Destination.Cluster + "; the UI reads only the cluster of your kubeconfig, so what they own is not shown."
	case s.cfg.Kube == nil:
		v.Notice = "The UI has no Kubernetes client to read what the objects own."
	}
	for _, res := range app.Status.Resources {
		n := treeNode{Group: res.Group, Kind: res.Kind, Namespace: res.Namespace, Name: res.Name, Sync: string(res.Status), Health: string(res.Health)}
		if local && s.cfg.Kube != nil && res.Namespace != "" {
			l.children(ctx, &n, res.Group, "")
		}
		v.Nodes = append(v.Nodes, n)
	}
	linkLogs(v.Nodes, "/applications/"+app.Namespace+"/"+app.Name+"/logs")
	return v
}

// linkLogs links each Pod of nodes to its log on the Logs page at base.
func linkLogs(nodes []treeNode, base string) {
	for i := range nodes {
		n := &nodes[i]
		if n.Kind == "Pod" && n.Group == "" {
			n.Logs = base + "?" + url.Values{"namespace": {n.Namespace}, "pod": {n.Name}}.Encode()
		}
		linkLogs(n.Children, base)
	}
}
