package hooks

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func job(annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("batch/v1")
	u.SetKind("Job")
	u.SetGenerateName("migrate-")
	u.SetAnnotations(annotations)
	return u
}

func TestOf(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		want        []Type
		wantErr     string
	}{
		{"an ordinary object", nil, nil, ""},
		{"Ferry's", map[string]string{Annotation: "PreSync"}, []Type{PreSync}, ""},
		{"several, with spaces", map[string]string{Annotation: "PreSync, PostSync"}, []Type{PreSync, PostSync}, ""},
		{"Argo CD's", map[string]string{ArgoCDAnnotation: "SyncFail"}, []Type{SyncFail}, ""},
		{"Argo CD's Skip", map[string]string{ArgoCDAnnotation: "Skip"}, []Type{Skip}, ""},
		{"Ferry's wins", map[string]string{Annotation: "Sync", ArgoCDAnnotation: "PostSync"}, []Type{Sync}, ""},
		{"unknown type", map[string]string{Annotation: "PreDeploy"}, nil, `annotation gitops.ferry.dev/hook: "PreDeploy" is not a hook type`},
		{"lower case is not Argo CD's either", map[string]string{ArgoCDAnnotation: "presync"}, nil, `"presync" is not a hook type`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Of(job(tc.annotations))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Of = %v, %v; want %v", got, err, tc.want)
			}
			if IsHook(job(tc.annotations)) != (tc.want != nil) {
				t.Errorf("IsHook disagrees with Of")
			}
		})
	}
}

func TestDeletePoliciesOf(t *testing.T) {
	got, err := DeletePoliciesOf(job(map[string]string{Annotation: "PreSync"}))
	if err != nil || !reflect.DeepEqual(got, []DeletePolicy{BeforeHookCreation}) {
		t.Errorf("default policy: %v, %v", got, err)
	}
	got, err = DeletePoliciesOf(job(map[string]string{ArgoCDDeletePolicyAnnotation: "HookSucceeded,BeforeHookCreation"}))
	if err != nil || !reflect.DeepEqual(got, []DeletePolicy{HookSucceeded, BeforeHookCreation}) {
		t.Errorf("Argo CD's list: %v, %v", got, err)
	}
	if _, err := DeletePoliciesOf(job(map[string]string{DeletePolicyAnnotation: "Never"})); err == nil || !strings.Contains(err.Error(), `"Never" is not a hook delete policy`) {
		t.Errorf("unknown policy: %v", err)
	}
}
