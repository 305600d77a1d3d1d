package engine

import (
	"reflect"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
)

// TestRenderOptionsFollowTheSource: what the render is asked to do comes from the source's own
// fields — a chart's values only when the source has a helm section (the chart defaults always),
// kustomize's overrides with their patch targets, a directory's filters — and nothing else.
func TestRenderOptionsFollowTheSource(t *testing.T) {
	helm := &render.HelmOptions{ReleaseName: "web", Namespace: "shop"}
	for _, c := range []struct {
		name   string
		src    gitopsv1alpha1.ApplicationSource
		remote bool
		want   render.Options
	}{
		{name: "plain path", src: gitopsv1alpha1.ApplicationSource{Path: "app"},
			want: render.Options{ChartDefaults: helm}},
		{name: "remote bases allowed", src: gitopsv1alpha1.ApplicationSource{Path: "app"}, remote: true,
			want: render.Options{AllowRemoteBases: true, ChartDefaults: helm}},
		{name: "directory filters", src: gitopsv1alpha1.ApplicationSource{Directory: &gitopsv1alpha1.DirectorySource{Recurse: true, Include: "*.yaml", Exclude: "test/*"}},
			want: render.Options{ChartDefaults: helm, Directory: &render.DirectoryOptions{Recurse: true, Include: "*.yaml", Exclude: "test/*"}}},
		{name: "helm section", src: gitopsv1alpha1.ApplicationSource{Helm: &gitopsv1alpha1.HelmSource{}},
			want: render.Options{ChartDefaults: helm, Helm: helm}},
		{name: "kustomize overrides and patches", src: gitopsv1alpha1.ApplicationSource{Kustomize: &gitopsv1alpha1.KustomizeSource{
			NamePrefix: "prod-", NameSuffix: "-eu", Images: []string{"web=registry.example/web:2.1"}, Components: []string{"../components/tls"},
			Patches: []gitopsv1alpha1.KustomizePatch{
				{Patch: "- op: replace\n  path: /spec/replicas\n  value: 3", Target: &gitopsv1alpha1.KustomizeSelector{Group: "apps", Version: "v1", Kind: "Deployment", Name: "web", LabelSelector: "tier=web"}},
				{Patch: "metadata:\n  labels:\n    team: shop"},
			}}},
			want: render.Options{ChartDefaults: helm, Kustomize: &render.KustomizeOptions{NamePrefix: "prod-", NameSuffix: "-eu",
				Images: []string{"web=registry.example/web:2.1"}, Components: []string{"../components/tls"},
				Patches: []render.Patch{
					{Patch: "- op: replace\n  path: /spec/replicas\n  value: 3", Target: &render.Selector{Group: "apps", Version: "v1", Kind: "Deployment", Name: "web", LabelSelector: "tier=web"}},
					{Patch: "metadata:\n  labels:\n    team: shop"},
				}}}},
	} {
		src := c.src
		got := renderOptions(SourceAt{ApplicationSource: &src, Field: "spec.source"}, helm, c.remote, nil)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: render options\n%+v\nwant\n%+v", c.name, got, c.want)
		}
	}
}
