package hooks

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Helm's annotations on objects of a plain directory mean what they mean to Argo CD.
func TestHelmAnnotations(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		hook        bool
		types       []Type
		policies    []DeletePolicy
		wave        int32
	}{
		{"an ordinary object", nil, false, nil, nil, 0},
		{"pre-install", map[string]string{HelmAnnotation: "pre-install"}, true, []Type{PreSync}, []DeletePolicy{BeforeHookCreation}, 0},
		{"pre-install and pre-upgrade are one PreSync", map[string]string{HelmAnnotation: "pre-install, pre-upgrade"}, true, []Type{PreSync}, []DeletePolicy{BeforeHookCreation}, 0},
		{"post-upgrade", map[string]string{HelmAnnotation: "post-upgrade"}, true, []Type{PostSync}, []DeletePolicy{BeforeHookCreation}, 0},
		{"both sides", map[string]string{HelmAnnotation: "pre-install,post-install"}, true, []Type{PreSync, PostSync}, []DeletePolicy{BeforeHookCreation}, 0},
		{"a test hook never runs", map[string]string{HelmAnnotation: "test"}, true, []Type{Skip}, []DeletePolicy{BeforeHookCreation}, 0},
		{"delete and rollback hooks never run", map[string]string{HelmAnnotation: "pre-delete,post-rollback"}, true, []Type{Skip}, []DeletePolicy{BeforeHookCreation}, 0},
		{"crd-install is an ordinary object", map[string]string{HelmAnnotation: "crd-install"}, false, nil, nil, 0},
		{"weight and delete policies", map[string]string{HelmAnnotation: "pre-install", HelmWeightAnnotation: "-2", HelmDeletePolicyAnnotation: "hook-succeeded,hook-failed"},
			true, []Type{PreSync}, []DeletePolicy{HookSucceeded, HookFailed}, -2},
		{"Argo CD's hook wins, with its own default policy", map[string]string{ArgoCDAnnotation: "PostSync", HelmAnnotation: "pre-install", HelmDeletePolicyAnnotation: "hook-succeeded"},
			true, []Type{PostSync}, []DeletePolicy{BeforeHookCreation}, 0},
		{"Ferry's wave wins over the hook weight", map[string]string{HelmAnnotation: "pre-install", HelmWeightAnnotation: "5", "gitops.ferry.dev/sync-wave": "1"},
			true, []Type{PreSync}, []DeletePolicy{BeforeHookCreation}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := job(tc.annotations)
			if got := IsHook(obj); got != tc.hook {
				t.Errorf("IsHook = %v, want %v", got, tc.hook)
			}
			types, err := Of(obj)
			if err != nil || !reflect.DeepEqual(types, tc.types) {
				t.Errorf("Of = %v, %v; want %v", types, err, tc.types)
			}
			_, hooks, err := Split(one(obj))
			if err != nil {
				t.Fatal(err)
			}
			if tc.types == nil || tc.types[0] == Skip {
				if len(hooks) != 0 {
					t.Errorf("Split found hooks %+v, want none", hooks)
				}
				return
			}
			if len(hooks) != 1 || !reflect.DeepEqual(hooks[0].Policies, tc.policies) || hooks[0].Wave != tc.wave {
				t.Errorf("Split = %+v, want policies %v, wave %d", hooks, tc.policies, tc.wave)
			}
		})
	}

	_, _, err := Split(one(job(map[string]string{HelmAnnotation: "pre-install", HelmWeightAnnotation: "first"})))
	if err == nil || !strings.Contains(err.Error(), HelmWeightAnnotation) || !strings.Contains(err.Error(), `"first"`) {
		t.Errorf("a weight that is no number: %v, want an error naming %s and the value", err, HelmWeightAnnotation)
	}
}

// one is a render of one object.
func one(obj *unstructured.Unstructured) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{obj}
}
