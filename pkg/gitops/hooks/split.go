package hooks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/syncoptions"
)

// Hook is one hook object of a render, with what its annotations say.
type Hook struct {
	Object   *unstructured.Unstructured
	Types    []Type
	Wave     int32
	Policies []DeletePolicy
}

// Split separates the hooks of a render from the objects the Application keeps applied (its
// resources); objects marked Skip are neither. Every malformed annotation (hook, delete policy,
// sync wave, sync options) is reported at once, each naming its object.
func Split(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, []Hook, error) {
	var resources []*unstructured.Unstructured
	var found []Hook
	var problems []string
	for _, o := range objs {
		if _, err := syncoptions.Of(o); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", Name(o), err))
			continue
		}
		types, err := Of(o)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", Name(o), err))
			continue
		}
		if types == nil {
			resources = append(resources, o)
			continue
		}
		if slices.Contains(types, Skip) {
			continue
		}
		policies, err := DeletePoliciesOf(o)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", Name(o), err))
			continue
		}
		wave, err := waveOf(o)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", Name(o), err))
			continue
		}
		found = append(found, Hook{Object: o, Types: types, Wave: wave, Policies: policies})
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	// Hooks of one type run by wave, then by kind and name: the same order at every sync.
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].Wave != found[j].Wave {
			return found[i].Wave < found[j].Wave
		}
		return Name(found[i].Object) < Name(found[j].Object)
	})
	return resources, found, nil
}

// Name is Kind/name, or Kind/generateName* for a hook that lets the server name it.
func Name(o *unstructured.Unstructured) string {
	if o.GetName() == "" && o.GetGenerateName() != "" {
		return o.GetKind() + "/" + o.GetGenerateName() + "*"
	}
	return o.GetKind() + "/" + o.GetName()
}

// Resources drops the hooks and skipped objects of a render: what the Application keeps applied
// and compares. A malformed hook annotation leaves the object in, for the sync to report.
func Resources(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		if !IsHook(o) {
			out = append(out, o)
		}
	}
	return out
}
