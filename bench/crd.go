package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// applicationModel is the OpenAPI model name of Ferry's Application.
const applicationModel = "dev.ferry.gitops.v1alpha1.Application"

// installBaselineCRD registers applications.bench.ferry.dev: a CRD whose schema is Ferry's own
// Application schema, read from the OpenAPI v3 document Ferry serves, with the status
// subresource and the printer columns of Ferry's table. It waits until the CRD is served.
func installBaselineCRD(ctx context.Context, config *rest.Config) error {
	openAPISchema, err := applicationSchema(ctx, config)
	if err != nil {
		return err
	}
	name := "applications." + crdGroupVersion.Group
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"group": crdGroupVersion.Group,
			"names": map[string]any{"plural": "applications", "singular": "application", "kind": "Application", "listKind": "ApplicationList"},
			"scope": "Namespaced",
			"versions": []any{map[string]any{
				"name": crdGroupVersion.Version, "served": true, "storage": true,
				"schema":       map[string]any{"openAPIV3Schema": openAPISchema},
				"subresources": map[string]any{"status": map[string]any{}},
				"additionalPrinterColumns": []any{
					map[string]any{"name": "Revision", "type": "string", "jsonPath": ".status.sync.revision"},
					map[string]any{"name": "Sync", "type": "string", "jsonPath": ".status.sync.status"},
					map[string]any{"name": "Health", "type": "string", "jsonPath": ".status.health.status"},
					map[string]any{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
				},
			}},
		},
	}}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	crds := client.Resource(crdResource)
	// Server-side apply: the same call creates it or brings an earlier run's up to date.
	if _, err := crds.Apply(ctx, name, crd, metav1.ApplyOptions{FieldManager: "ferry-bench", Force: true}); err != nil {
		return fmt.Errorf("creating the baseline CRD from Ferry's schema: %w", err)
	}
	// Established, then served by discovery.
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		got, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conditions {
			if c, ok := c.(map[string]any); ok && c["type"] == "Established" && c["status"] == "True" {
				_, err = dc.ServerResourcesForGroupVersion(crdGroupVersion.String())
				return err == nil, nil
			}
		}
		return false, nil
	})
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// deleteBaselineCRD removes applications.bench.ferry.dev and its objects, and waits until it is
// gone: a CRD being deleted cannot be applied again.
func deleteBaselineCRD(ctx context.Context, config *rest.Config) error {
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	crds, name := client.Resource(crdResource), "applications."+crdGroupVersion.Group
	if err := crds.Delete(ctx, name, metav1.DeleteOptions{}); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := crds.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

// applicationSchema reads Ferry's OpenAPI v3 document through kube-apiserver and turns the
// Application model into a CRD schema: references inlined, metadata left to the server.
func applicationSchema(ctx context.Context, config *rest.Config) (map[string]any, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, err
	}
	// The aggregator publishes an APIService's OpenAPI some moments after it becomes Available.
	var raw []byte
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		raw, err = dc.RESTClient().Get().AbsPath("/openapi/v3/apis/" + gitopsv1alpha1.SchemeGroupVersion.String()).Do(ctx).Raw()
		return err == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading Ferry's OpenAPI v3 document through kube-apiserver: %w", err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decoding Ferry's OpenAPI v3 document: %w", err)
	}
	root, ok := doc.Components.Schemas[applicationModel]
	if !ok {
		return nil, fmt.Errorf("the OpenAPI v3 document of Ferry has no %s", applicationModel)
	}
	inlined, err := inlineSchema(root, doc.Components.Schemas, 0)
	if err != nil {
		return nil, err
	}
	// A CRD's metadata is the server's: the schema may only say it is an object.
	if props, ok := inlined["properties"].(map[string]any); ok {
		props["metadata"] = map[string]any{"type": "object"}
	}
	return inlined, nil
}

// inlineSchema replaces references by the schemas they name. A single-element allOf (how OpenAPI v3 attaches a
// description to a reference) is merged, and empty defaults of structs are dropped: a CRD
// requires every default to validate, and {} misses the required fields.
func inlineSchema(s map[string]any, schemas map[string]map[string]any, depth int) (map[string]any, error) {
	if depth > 32 {
		return nil, fmt.Errorf("schema references nest deeper than 32")
	}
	out := map[string]any{}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := schemas[name]
		if !ok {
			return nil, fmt.Errorf("the schema refers to %s, which the document lacks", name)
		}
		return inlineSchema(target, schemas, depth+1)
	}
	if all, ok := s["allOf"].([]any); ok && len(all) == 1 {
		inner, ok := all[0].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("allOf holds %T", all[0])
		}
		merged, err := inlineSchema(inner, schemas, depth+1)
		if err != nil {
			return nil, err
		}
		for k, v := range s {
			if k != "allOf" {
				merged[k] = v
			}
		}
		return inlineSchema(merged, schemas, depth+1)
	}
	for k, v := range s {
		switch k {
		case "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				inlined, err := inlineSchema(p.(map[string]any), schemas, depth+1)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				props[name] = inlined
			}
			out[k] = props
		case "items", "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				inlined, err := inlineSchema(m, schemas, depth+1)
				if err != nil {
					return nil, err
				}
				out[k] = inlined
			} else {
				out[k] = v
			}
		case "default":
			if m, ok := v.(map[string]any); ok && len(m) == 0 {
				continue
			}
			out[k] = v
		case "x-kubernetes-group-version-kind":
		default:
			out[k] = v
		}
	}
	return out, nil
}
