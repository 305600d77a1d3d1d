package install

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// FieldManager owns what the installer applies, so that a second run upgrades in place and a
// user's own changes to other fields are kept.
const FieldManager = "ferry-install"

// Cluster is where the installer applies: a dynamic client and a REST mapper of the cluster.
type Cluster struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// Out gets one progress line per step.
	Out io.Writer
}

func (c Cluster) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: the cluster does not serve %s: %w", gvk.Kind, obj.GetName(), gvk.GroupVersion(), err)
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return c.Dynamic.Resource(mapping.Resource), nil
}

// describe names an object as kubectl does: kind/name, with its namespace.
func describe(obj *unstructured.Unstructured) string {
	s := obj.GetKind() + "/" + obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		s += " in " + ns
	}
	return s
}

// Apply applies objs in order with server-side apply as FieldManager; dryRun has the server
// validate and admit each without storing it. Each object gets a line saying what happened.
func (c Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured, dryRun bool) error {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, obj := range objs {
		ri, err := c.resource(obj)
		if err != nil {
			return err
		}
		existing, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		var verb string
		switch {
		case apierrors.IsNotFound(err):
			verb = "created"
		case err != nil:
			return fmt.Errorf("reading %s: %w", describe(obj), err)
		default:
			verb = "configured"
		}
		applied, err := ri.Apply(ctx, obj.GetName(), obj, opts)
		if err != nil {
			return fmt.Errorf("applying %s: %w", describe(obj), err)
		}
		if existing != nil && !changed(existing, applied) {
			verb = "unchanged"
		}
		if dryRun {
			fmt.Fprintf(c.Out, "    %s: would be %s (server dry run passed)\n", describe(obj), verb)
		} else {
			fmt.Fprintf(c.Out, "    %s %s\n", describe(obj), verb)
		}
	}
	return nil
}

// changed says whether applying changed the object beyond its bookkeeping. A dry run keeps the
// resourceVersion whatever it would change, so the objects themselves are compared.
func changed(before, after *unstructured.Unstructured) bool {
	strip := func(o *unstructured.Unstructured) map[string]any {
		c := o.DeepCopy()
		for _, f := range []string{"managedFields", "resourceVersion", "generation"} {
			unstructured.RemoveNestedField(c.Object, "metadata", f)
		}
		return c.Object
	}
	return !equality.Semantic.DeepEqual(strip(before), strip(after))
}

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// WaitAvailable waits until the APIService of gitops.ferry.dev is Available, printing its
// condition every 10 seconds, for at most timeout.
func (c Cluster) WaitAvailable(ctx context.Context, timeout time.Duration) error {
	start := time.Now()
	lastReport := start
	var last string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		obj, err := c.Dynamic.Resource(apiServiceGVR).Get(ctx, APIServiceName, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] != "Available" {
				continue
			}
			if m["status"] == "True" {
				return true, nil
			}
			last = fmt.Sprintf("%v: %v", m["reason"], m["message"])
		}
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(c.Out, "    still waiting (%s): %s\n", time.Since(start).Round(time.Second), last)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("APIService %s is not Available after %s (%s); check the server with "+
			"kubectl -n %s get pods,events and kubectl -n %s logs -l app.kubernetes.io/name=%s", APIServiceName, timeout, last, Namespace, Namespace, ServerName)
	}
	fmt.Fprintf(c.Out, "    APIService %s Available after %s\n", APIServiceName, time.Since(start).Round(time.Second))
	return nil
}

// Delete deletes objs in reverse order (the APIService first, so no request reaches a server
// going away; the namespace last). dryRun only says what it would delete.
func (c Cluster) Delete(ctx context.Context, objs []*unstructured.Unstructured, dryRun bool) error {
	opts := metav1.DeleteOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for i := len(objs) - 1; i >= 0; i-- {
		obj := objs[i]
		ri, err := c.resource(obj)
		if err != nil {
			return err
		}
		err = ri.Delete(ctx, obj.GetName(), opts)
		switch {
		case apierrors.IsNotFound(err):
			fmt.Fprintf(c.Out, "    %s already gone\n", describe(obj))
		case err != nil:
			return fmt.Errorf("deleting %s: %w", describe(obj), err)
		case dryRun:
			fmt.Fprintf(c.Out, "    %s: would be deleted\n", describe(obj))
		default:
			fmt.Fprintf(c.Out, "    %s deleted\n", describe(obj))
		}
	}
	return nil
}
