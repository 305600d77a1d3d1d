package redact

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// TestRenderErrorsNeverQuoteSecretValues renders real repositories whose kustomize errors quote
// Secret material, and checks the masked message: the failure still reads, the values do not.
func TestRenderErrorsNeverQuoteSecretValues(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		secret string
	}{{
		name:   "malformed secretGenerator literal",
		files:  map[string]string{"app/kustomization.yaml": "secretGenerator:\n- name: db\n  literals:\n  - \"password: hunter2-marker\"\n"},
		secret: "hunter2-marker",
	}, {
		name:   "secretGenerator literal with no key, its value starting with *",
		files:  map[string]string{"app/kustomization.yaml": "secretGenerator:\n- name: db\n  literals:\n  - \"=*starred-marker-value\"\n"},
		secret: "*starred-marker-value",
	}, {
		name: "builtin SecretGenerator in a generator config file, malformed literal",
		files: map[string]string{
			"app/kustomization.yaml": "generators: [gen.yaml]\n",
			"app/gen.yaml":           "apiVersion: builtin\nkind: SecretGenerator\nmetadata: {name: db}\nliterals:\n- \"password: gen-file-marker\"\n",
		},
		secret: "gen-file-marker",
	}, {
		name: "inline builtin SecretGenerator, malformed literal",
		files: map[string]string{
			"app/kustomization.yaml": "generators:\n- |\n  apiVersion: builtin\n  kind: SecretGenerator\n  metadata: {name: db}\n  literals:\n  - \"token: inline-marker\"\n",
		},
		secret: "inline-marker",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var files []source.File
			for p, d := range tc.files {
				files = append(files, source.File{Path: p, Data: []byte(d)})
			}
			_, err := render.Render(files, "app", render.Options{})
			if err == nil {
				t.Fatal("the render succeeded; the case needs an error")
			}
			if !strings.Contains(err.Error(), tc.secret) {
				t.Fatal("kustomize's error no longer quotes the value: the case proves nothing")
			}
			masked := Error(err, FromFiles(files))
			if strings.Contains(masked.Error(), tc.secret) {
				t.Fatalf("the message quotes the secret: %s", masked)
			}
			var rerr *render.Error
			if !errors.As(masked, &rerr) {
				t.Fatalf("the masked error is no longer a render error: %T", masked)
			}
		})
	}
}

func TestFromObjectsMasksEveryFormOfAValue(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]interface{}{"name": "s"},
		"data":       map[string]interface{}{"pw": base64.StdEncoding.EncodeToString([]byte("data-marker-1"))},
		"stringData": map[string]interface{}{"cert": "-----BEGIN-----\nline-marker-2\n-----END-----"},
	}}
	configMap := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]interface{}{"name": "c"},
		"data": map[string]interface{}{"public": "not-a-secret"},
	}}
	values := FromObjects([]*unstructured.Unstructured{secret, configMap})
	msg := values.String(fmt.Sprintf(`Secret "s" is invalid: data-marker-1, %s, line-marker-2; ConfigMap says not-a-secret; short ok`,
		base64.StdEncoding.EncodeToString([]byte("data-marker-1"))))
	for _, leak := range []string{"data-marker-1", "line-marker-2", base64.StdEncoding.EncodeToString([]byte("data-marker-1"))} {
		if strings.Contains(msg, leak) {
			t.Errorf("%q remains in %s", leak, msg)
		}
	}
	if !strings.Contains(msg, "not-a-secret") || !strings.Contains(msg, `Secret "s" is invalid`) {
		t.Errorf("masking took more than the values: %s", msg)
	}
}
