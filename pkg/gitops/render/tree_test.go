package render

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// TestKustomizationReadsOnlyWhatItReaches renders an overlay of a monorepo in which other
// directories hold an old-style kustomization (patches as strings), a remote base and a broken
// manifest: none of them is read, and only the overlay, its base and its component are.
func TestKustomizationReadsOnlyWhatItReaches(t *testing.T) {
	repo := files(
		"apps/web/overlays/prod/kustomization.yaml", "resources: [../../base]\ncomponents: [../../../../components/labels]\nnamePrefix: prod-\n",
		"apps/web/base/kustomization.yaml", "resources: [cm.yaml]\n",
		"apps/web/base/cm.yaml", configMap("web"),
		"apps/web/base/nested/kustomization.yaml", "resources: [https://example.com/never-read.yaml]\n",
		"components/labels/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels: [{pairs: {team: web}}]\n",
		"legacy/kustomization.yaml", "patches:\n- some-file.yaml\n",
		"remote/kustomization.yaml", "resources: [github.com/org/repo//base?ref=main]\n",
		"broken/cm.yaml", "not: [valid\n",
	)
	var asked []string
	read := func(dir string) ([]source.File, error) {
		asked = append(asked, dir)
		return FilesReader(repo)(dir)
	}
	objs, err := RenderTree(read, "apps/web/overlays/prod", Options{})
	if err != nil {
		t.Fatalf("an unrelated directory failed the render: %v", err)
	}
	if len(objs) != 1 || objs[0].GetName() != "prod-web" || objs[0].GetLabels()["team"] != "web" {
		t.Errorf("rendered %v", objs)
	}
	sort.Strings(asked)
	if want := []string{"apps/web/base", "apps/web/overlays/prod", "components/labels"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("read directories %v, want only %v", asked, want)
	}
}

func TestKustomizationReferencesAreCheckedAsReached(t *testing.T) {
	cases := []struct {
		name, kustomization, file, want string
	}{
		{"missing base", "resources: [../nowhere]\n", "app/kustomization.yaml", `"../nowhere" does not exist`},
		{"missing file", "resources: [gone.yaml]\n", "app/kustomization.yaml", `"gone.yaml" does not exist`},
		{"escape", "resources: [../../../etc]\n", "app/kustomization.yaml", "outside the repository"},
		{"remote in a base", "resources: [../base]\n", "base/kustomization.yaml", "remote base"},
		{"invalid base kustomization", "resources: [../legacy]\n", "legacy/kustomization.yaml", "not a valid kustomization"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo := files(
				"app/kustomization.yaml", tc.kustomization,
				"base/kustomization.yaml", "resources: [https://example.com/x.yaml]\n",
				"legacy/kustomization.yaml", "resources: {not: a list}\n",
			)
			_, err := Render(repo, "app", Options{})
			var rerr *Error
			if !errors.As(err, &rerr) || rerr.File != tc.file || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v; want an error in %s saying %q", err, tc.file, tc.want)
			}
		})
	}
}
