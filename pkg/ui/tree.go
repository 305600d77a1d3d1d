package ui

import (
	"context"
	"fmt"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// treeNode is one object of the resource tree: an object of the Application (sync and health
// from its status) or an object it owns (its state as Kubernetes reports it).
type treeNode struct {
	Kind, Namespace, Name string
	Sync, Health          string
	State                 string // a Pod's phase and readiness, a ReplicaSet's ready replicas
	Children              []treeNode
	Note                  string // why the children could not be read
}

// owned says which kinds own which: the tree looks only for these, by ownerReferences.
var owned = map[string]string{
	"apps/Deployment":  "ReplicaSet",
	"apps/ReplicaSet":  "Pod",
	"apps/StatefulSet": "Pod",
	"apps/DaemonSet":   "Pod",
	"batch/Job":        "Pod",
}

// lister lists, as the person using the UI, the ReplicaSets and Pods of a namespace once per
// page, remembering a refusal so it is reported under every node it hides.
type lister struct {
	kube kubernetes.Interface
	rs   map[string][]appsv1.ReplicaSet
	pods map[string][]corev1.Pod
	errs map[string]error
}

func (l *lister) replicaSets(ctx context.Context, ns string) ([]appsv1.ReplicaSet, error) {
	key := "replicasets/" + ns
	if err, ok := l.errs[key]; ok {
		return nil, err
	}
	if v, ok := l.rs[ns]; ok {
		return v, nil
	}
	list, err := l.kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		l.errs[key] = err
		return nil, err
	}
	l.rs[ns] = list.Items
	return list.Items, nil
}

func (l *lister) podsOf(ctx context.Context, ns string) ([]corev1.Pod, error) {
	key := "pods/" + ns
	if err, ok := l.errs[key]; ok {
		return nil, err
	}
	if v, ok := l.pods[ns]; ok {
		return v, nil
	}
	list, err := l.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		l.errs[key] = err
		return nil, err
	}
	l.pods[ns] = list.Items
	return list.Items, nil
}

// ownedBy says whether o names kind/name as its controller. Name and kind identify the owner
// within the namespace; the owner's uid would need one more read of it.
func ownedBy(refs []metav1.OwnerReference, kind, name string) bool {
	for _, r := range refs {
		if r.Kind == kind && r.Name == name {
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

// children fills n with what it owns, as far as the person may read.
func (l *lister) children(ctx context.Context, n *treeNode, group string) {
	switch owned[group+"/"+n.Kind] {
	case "ReplicaSet":
		rss, err := l.replicaSets(ctx, n.Namespace)
		if err != nil {
			n.Note = notPermitted(err, "replicasets", n.Namespace)
			return
		}
		for i := range rss {
			rs := &rss[i]
			if !ownedBy(rs.OwnerReferences, n.Kind, n.Name) {
				continue
			}
			c := treeNode{Kind: "ReplicaSet", Namespace: rs.Namespace, Name: rs.Name,
				State: fmt.Sprintf("%d/%d ready", rs.Status.ReadyReplicas, rs.Status.Replicas)}
			l.children(ctx, &c, "apps")
			n.Children = append(n.Children, c)
		}
	case "Pod":
		pods, err := l.podsOf(ctx, n.Namespace)
		if err != nil {
			n.Note = notPermitted(err, "pods", n.Namespace)
			return
		}
		for i := range pods {
			if ownedBy(pods[i].OwnerReferences, n.Kind, n.Name) {
				n.Children = append(n.Children, treeNode{Kind: "Pod", Namespace: pods[i].Namespace, Name: pods[i].Name, State: podState(&pods[i])})
			}
		}
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
	p.View = s.tree(r.Context(), app)
	s.renderSub(w, "tree", p)
}

func (s *Server) tree(ctx context.Context, app *gitopsv1alpha1.Application) *treeView {
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
	l := &lister{kube: s.cfg.Kube, rs: map[string][]appsv1.ReplicaSet{}, pods: map[string][]corev1.Pod{}, errs: map[string]error{}}
	for _, res := range app.Status.Resources {
		n := treeNode{Kind: res.Kind, Namespace: res.Namespace, Name: res.Name, Sync: string(res.Status), Health: string(res.Health)}
		if local && s.cfg.Kube != nil && res.Namespace != "" {
			l.children(ctx, &n, res.Group)
		}
		v.Nodes = append(v.Nodes, n)
	}
	return v
}
