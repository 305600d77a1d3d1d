package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// ObjectFromJSON is the one place every renderer's output passes through: it decodes a rendered
// object from JSON into exactly the types an unstructured object may hold — int64 for integers,
// float64 for other numbers, string, bool, nil, map[string]interface{} and []interface{}.
//
// Renderers cannot hand their own values over: kustomize's resources hold Go ints (from its
// YAML parser), and encoding/json turns every number into a float64 (a port of 80 would become
// 80.0, and an int64 above 2^53 would lose digits). DeepCopy and the API machinery panic on an
// int, which took the whole server down on the first kustomization with a port in it.
func ObjectFromJSON(data []byte) (*unstructured.Unstructured, error) {
	var m map[string]interface{}
	if err := utiljson.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}
