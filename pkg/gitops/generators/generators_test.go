package generators

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func guestbookTemplate() gitopsv1alpha1.ApplicationSetTemplate {
	return gitopsv1alpha1.ApplicationSetTemplate{
		Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: "guestbook-{{.name}}", Labels: map[string]string{"env": "{{.metadata.labels.env}}"}},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/apps.git", Path: "envs/{{.metadata.labels.env}}/guestbook"},
			Destination: gitopsv1alpha1.ApplicationDestination{Cluster: "{{.name}}", Namespace: "guestbook"},
		},
	}
}

func cluster(name string, labels map[string]string) *gitopsv1alpha1.Cluster {
	return &gitopsv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: gitopsv1alpha1.ClusterSpec{Server: "https://" + name + ".example.com"}}
}

// TestAClustersGeneratorMakesOneApplicationPerMatchingCluster: labels select, every string of
// the template is filled in from the cluster's parameters.
func TestAClustersGeneratorMakesOneApplicationPerMatchingCluster(t *testing.T) {
	src := Sources{Clusters: func() ([]*gitopsv1alpha1.Cluster, error) {
		return []*gitopsv1alpha1.Cluster{
			cluster("prod-eu", map[string]string{"env": "prod", "region": "eu"}),
			cluster("staging", map[string]string{"env": "staging"}),
			cluster("lab", map[string]string{"env": "lab", "ephemeral": "true"}),
		}, nil
	}}
	spec := gitopsv1alpha1.ApplicationSetSpec{
		Generators: []gitopsv1alpha1.ApplicationSetGenerator{{Clusters: &gitopsv1alpha1.ClusterGenerator{Selector: metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "staging"}}},
		}}}},
		Template: guestbookTemplate(),
	}
	res, err := Generate(context.Background(), spec, src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Params {
		app, err := Render(spec.Template, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, app.Name+" "+app.Spec.Destination.Cluster+" "+app.Spec.Source.Path+" "+app.Labels["env"])
	}
	want := "guestbook-prod-eu prod-eu envs/prod/guestbook prod|guestbook-staging staging envs/staging/guestbook staging"
	if strings.Join(got, "|") != want {
		t.Errorf("generated %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestAClustersGeneratorGivesOnlyClustersTheSetMayUse: a Cluster the set's ServiceAccount may
// not use is left out entirely (its name, server, labels and annotations would reach the set's
// author through the template); a failing check is an error naming the generator.
func TestAClustersGeneratorGivesOnlyClustersTheSetMayUse(t *testing.T) {
	secret := cluster("payments-prod", map[string]string{"env": "prod"})
	secret.Annotations = map[string]string{"owner": "payments-team@example.com"}
	src := Sources{
		Clusters: func() ([]*gitopsv1alpha1.Cluster, error) {
			return []*gitopsv1alpha1.Cluster{cluster("staging", map[string]string{"env": "staging"}), secret}, nil
		},
		MayUse: func(name string) (bool, error) { return name == "staging", nil },
	}
	spec := gitopsv1alpha1.ApplicationSetSpec{Generators: []gitopsv1alpha1.ApplicationSetGenerator{{Clusters: &gitopsv1alpha1.ClusterGenerator{}}}}
	res, err := Generate(context.Background(), spec, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Params) != 1 || res.Params[0]["name"] != "staging" {
		t.Errorf("parameters %v: want staging alone", res.Params)
	}
	for _, p := range res.Params {
		if text := fmt.Sprint(p); strings.Contains(text, "payments") {
			t.Errorf("a Cluster the set may not use reaches its template: %s", text)
		}
	}

	src.MayUse = func(string) (bool, error) { return false, fmt.Errorf("the SubjectAccessReview failed") }
	if _, err := Generate(context.Background(), spec, src); err == nil || !strings.Contains(err.Error(), "spec.generators[0].clusters") {
		t.Errorf("a failed check: %v, want an error naming spec.generators[0].clusters", err)
	}
}

// TestATypoInATemplateIsAnErrorNamingTheField: missingkey=error, so a misspelt parameter is an
// error naming the field, never an empty string in a path.
func TestATypoInATemplateIsAnErrorNamingTheField(t *testing.T) {
	tmpl := guestbookTemplate()
	tmpl.Spec.Source.Path = "envs/{{.metadata.labels.envv}}/guestbook"
	_, err := Render(tmpl, Params{"name": "staging", "metadata": map[string]any{"labels": map[string]any{"env": "staging"}}})
	if err == nil || !strings.Contains(err.Error(), "spec.template.spec.source.path") || !strings.Contains(err.Error(), `no parameter "envv"`) {
		t.Fatalf("want an error naming spec.template.spec.source.path and the parameter, got %v", err)
	}
	if path, err := ParseStrings(gitopsv1alpha1.ApplicationSetTemplate{Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: "{{.name"}}); err == nil || path != "spec.template.metadata.name" {
		t.Errorf("an unclosed action: path %q, err %v", path, err)
	}
}

// TestAMatrixCombinesEveryPair: a list of two components times two clusters is four
// Applications, each with both generators' parameters.
func TestAMatrixCombinesEveryPair(t *testing.T) {
	src := Sources{Clusters: func() ([]*gitopsv1alpha1.Cluster, error) {
		return []*gitopsv1alpha1.Cluster{cluster("a", nil), cluster("b", nil)}, nil
	}}
	spec := gitopsv1alpha1.ApplicationSetSpec{Generators: []gitopsv1alpha1.ApplicationSetGenerator{{Matrix: &gitopsv1alpha1.MatrixGenerator{
		Generators: []gitopsv1alpha1.ApplicationSetNestedGenerator{
			{List: &gitopsv1alpha1.ListGenerator{Elements: []runtime.RawExtension{{Raw: []byte(`{"component":"api"}`)}, {Raw: []byte(`{"component":"web"}`)}}}},
			{Clusters: &gitopsv1alpha1.ClusterGenerator{}},
		},
	}}}}
	res, err := Generate(context.Background(), spec, src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Params {
		got = append(got, p["component"].(string)+"@"+p["name"].(string))
	}
	if strings.Join(got, " ") != "api@a api@b web@a web@b" {
		t.Errorf("matrix: %v", got)
	}
	spec.Generators[0].Matrix.Generators = spec.Generators[0].Matrix.Generators[:1]
	if _, err := Generate(context.Background(), spec, src); err == nil || !strings.Contains(err.Error(), "spec.generators[0].matrix.generators") {
		t.Errorf("a matrix of one: %v", err)
	}
}

// fakeRepo is a commit's files in memory.
type fakeRepo map[string]string

func (r fakeRepo) List() ([]string, []string, error) {
	dirs := map[string]bool{}
	var files []string
	for name := range r {
		files = append(files, name)
		for d := name; strings.Contains(d, "/"); {
			d = d[:strings.LastIndex(d, "/")]
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	sort.Strings(files)
	return ds, files, nil
}

func (r fakeRepo) ReadFile(name string, _ int64) ([]byte, error) { return []byte(r[name]), nil }

// TestAGitFilesGeneratorTurnsEachFileIntoParameters: each matching YAML or JSON file is one set
// of parameters, its nested fields reachable in templates, with path.* of its directory; a file
// that is not an object is an error naming it.
func TestAGitFilesGeneratorTurnsEachFileIntoParameters(t *testing.T) {
	repo := fakeRepo{
		"clusters/eu-west/config.yaml":   "cluster: {name: eu-west, address: https://eu.example.com}\nreplicas: 3\n",
		"clusters/us-east/config.json":   `{"cluster": {"name": "us-east", "address": "https://us.example.com"}, "replicas": 5}`,
		"clusters/us-east/README.md":     "not a parameter file",
		"apps/guestbook/deployment.yaml": "kind: Deployment",
	}
	src := Sources{Repo: func(context.Context, string, string, string) (string, Repo, error) { return "abc123", repo, nil }}
	spec := gitopsv1alpha1.ApplicationSetSpec{
		Generators: []gitopsv1alpha1.ApplicationSetGenerator{{Git: &gitopsv1alpha1.GitGenerator{RepoURL: "https://git.example.com/fleet.git",
			Files: []gitopsv1alpha1.GitFileGeneratorItem{{Path: "clusters/*/config.*"}}}}},
		Template: gitopsv1alpha1.ApplicationSetTemplate{
			Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: "guestbook-{{.cluster.name}}", Annotations: map[string]string{"replicas": "{{.replicas}}"}},
			Spec: gitopsv1alpha1.ApplicationSpec{Source: gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/fleet.git", Path: "{{.path.path}}/apps"},
				Destination: gitopsv1alpha1.ApplicationDestination{Cluster: "{{.path.basename}}"}},
		},
	}
	res, err := Generate(context.Background(), spec, src)
	if err != nil {
		t.Fatal(err)
	}
	if res.GitRevision != "abc123" || len(res.Params) != 2 {
		t.Fatalf("revision %q, %d sets of parameters, want abc123 and 2", res.GitRevision, len(res.Params))
	}
	var got []string
	for _, p := range res.Params {
		app, err := Render(spec.Template, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, app.Name+" "+app.Spec.Destination.Cluster+" "+app.Spec.Source.Path+" "+app.Annotations["replicas"])
	}
	if want := "guestbook-eu-west eu-west clusters/eu-west/apps 3|guestbook-us-east us-east clusters/us-east/apps 5"; strings.Join(got, "|") != want {
		t.Errorf("generated %q, want %q", strings.Join(got, "|"), want)
	}
	repo["clusters/broken/config.yaml"] = "- a list, not an object\n"
	if _, err := Generate(context.Background(), spec, src); err == nil || !strings.Contains(err.Error(), "spec.generators[0].git.files[0]: clusters/broken/config.yaml") {
		t.Errorf("a parameter file that is not an object: %v", err)
	}
}
