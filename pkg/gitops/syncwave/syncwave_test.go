package syncwave

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func withAnnotations(a map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetName("settings")
	u.SetAnnotations(a)
	return u
}

func TestOf(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]string
		want        int32
		wantErr     string
	}{
		{"no annotation is wave 0", nil, 0, ""},
		{"Ferry's", map[string]string{Annotation: "3"}, 3, ""},
		{"negative", map[string]string{Annotation: "-5"}, -5, ""},
		{"spaces around", map[string]string{Annotation: " 2 "}, 2, ""},
		{"Argo CD's", map[string]string{ArgoCDAnnotation: "7"}, 7, ""},
		{"Ferry's wins over Argo CD's", map[string]string{Annotation: "1", ArgoCDAnnotation: "9"}, 1, ""},
		{"not a number", map[string]string{Annotation: "first"}, 0, `annotation gitops.ferry.dev/sync-wave: "first" is not a whole number`},
		{"a fraction", map[string]string{ArgoCDAnnotation: "1.5"}, 0, `annotation argocd.argoproj.io/sync-wave: "1.5"`},
		{"past int32", map[string]string{Annotation: "3000000000"}, 0, "is not a whole number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Of(withAnnotations(tc.annotations))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Of = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
