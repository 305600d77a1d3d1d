package syncoptions

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestOf(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		want        Options
		wantErr     string
	}{
		{"none", nil, Options{}, ""},
		{"Prune=false", map[string]string{Annotation: "Prune=false"}, Options{NoPrune: true}, ""},
		{"several", map[string]string{Annotation: "Prune=false, Delete=false,Replace=true"}, Options{NoPrune: true, NoDelete: true, Replace: true}, ""},
		{"the defaults spelt out", map[string]string{Annotation: "Prune=true,Delete=true,Replace=false"}, Options{}, ""},
		{"ServerSideApply changes nothing", map[string]string{Annotation: "ServerSideApply=false"}, Options{}, ""},
		{"Argo CD's", map[string]string{ArgoCDAnnotation: "Delete=false"}, Options{NoDelete: true}, ""},
		{"Argo CD's ignores what Ferry does not know", map[string]string{ArgoCDAnnotation: "Validate=false,PruneLast=true,Prune=false"}, Options{NoPrune: true}, ""},
		{"Ferry's wins", map[string]string{Annotation: "Replace=true", ArgoCDAnnotation: "Prune=false"}, Options{Replace: true}, ""},
		{"Ferry's refuses what it does not know", map[string]string{Annotation: "Validate=false"}, Options{}, `"Validate=false" is not a sync option`},
		{"Ferry's refuses a value that is no boolean", map[string]string{Annotation: "Prune=no"}, Options{}, `"Prune=no"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			u.SetAnnotations(tc.annotations)
			got, err := Of(u)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Of = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
