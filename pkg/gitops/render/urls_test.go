package render

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestNoKustomizationFieldMakesTheServerFetch: every kustomization field kustomize loads as a
// file, given a URL of a recording server on 127.0.0.1 (in any case of scheme or host), is
// refused naming the file and the field, and the server receives no request: a repository can
// not make ferry-apiserver fetch an internal URL and show its body in /manifests.
func TestNoKustomizationFieldMakesTheServerFetch(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leaked}\ndata: {secret: internal}\n"))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	for _, url := range []string{srv.URL + "/secret.txt", "HTTP://" + host + "/secret.txt", "hTtPs://" + strings.ToUpper("localhost") + "/x"} {
		cases := []struct{ field, kustomization string }{
			{"configMapGenerator[0].files[0]", "configMapGenerator:\n- name: x\n  files: [k=" + url + "]\n"},
			{"configMapGenerator[0].files[0]", "configMapGenerator:\n- name: x\n  files: [" + url + "]\n"},
			{"configMapGenerator[0].envs[0]", "configMapGenerator:\n- name: x\n  envs: [" + url + "]\n"},
			{"secretGenerator[0].files[0]", "secretGenerator:\n- name: x\n  files: [k=" + url + "]\n"},
			{"secretGenerator[0].env", "secretGenerator:\n- name: x\n  env: " + url + "\n"},
			{"patches[0].path", "resources: [cm.yaml]\npatches:\n- path: " + url + "\n"},
			{"patchesJson6902[0].path", "resources: [cm.yaml]\npatchesJson6902:\n- path: " + url + "\n  target: {kind: ConfigMap, name: a}\n"},
			{"patchesStrategicMerge[0]", "resources: [cm.yaml]\npatchesStrategicMerge: [" + url + "]\n"},
			{"replacements[0].path", "resources: [cm.yaml]\nreplacements:\n- path: " + url + "\n"},
			{"openapi.path", "resources: [cm.yaml]\nopenapi:\n  path: " + url + "\n"},
			{"configurations[0]", "resources: [cm.yaml]\nconfigurations: [" + url + "]\n"},
			{"transformers[0]", "resources: [cm.yaml]\ntransformers: [" + url + "]\n"},
			{"generators[0]", "generators: [" + url + "]\n"},
			{"validators[0]", "resources: [cm.yaml]\nvalidators: [" + url + "]\n"},
		}
		for _, tc := range cases {
			t.Run(tc.field+" "+url, func(t *testing.T) {
				repo := files("app/kustomization.yaml", tc.kustomization, "app/cm.yaml", configMap("a"))
				objs, err := Render(repo, "app", Options{AllowRemoteBases: true})
				var rerr *Error
				if !errors.As(err, &rerr) || rerr.File != "app/kustomization.yaml" || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "names a URL") {
					t.Errorf("got %v (%d objects); want a refusal naming app/kustomization.yaml and %s", err, len(objs), tc.field)
				}
			})
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the recording server received %d requests from renders", n)
	}
}

// TestRemoteBasesAreRecognisedInEveryCase: kustomize takes GitHub.com/org/repo for a remote base
// whatever the case, and runs git for it; so does Ferry's check.
func TestRemoteBasesAreRecognisedInEveryCase(t *testing.T) {
	for _, ref := range []string{"GitHub.com/org/repo//base?ref=main", "github.COM/org/repo", "GIT@github.com:org/repo.git", "git::https://example.com/r.git", "gh:org/repo", "HTTPS://example.com/r.yaml"} {
		repo := files("app/kustomization.yaml", "resources:\n- "+ref+"\n")
		_, err := Render(repo, "app", Options{})
		if err == nil || !strings.Contains(err.Error(), "remote base") {
			t.Errorf("resources: [%s]: %v, want the remote base refused", ref, err)
		}
	}
}
