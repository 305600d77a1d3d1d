package generators

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
)

// Limits bound what one generation may produce.
const (
	// MaxParams is the most sets of parameters one ApplicationSet may generate.
	MaxParams = 2000
	// MaxGitFileBytes is the largest parameter file the git generator reads.
	MaxGitFileBytes = 1 << 20
	// maxParamNodes bounds what a parameter file's YAML aliases may expand to.
	maxParamNodes = 100000
)

// Sources are what generators read: the registered Clusters, and a repository at the commit a
// revision names (fetched once through the shared Git cache).
type Sources struct {
	Clusters func() ([]*gitopsv1alpha1.Cluster, error)
	// MayUse says whether the set's ServiceAccount may use a Cluster; the clusters generator
	// gives only those to the template (their name, server, labels and annotations reach the
	// set's author through it). Nil allows every Cluster: a set that acts as Ferry itself.
	MayUse func(cluster string) (bool, error)
	// Repo resolves revision of repoURL with the credentials of a Secret of the set's namespace
	// (credentialsRef, may be empty) and returns the commit and a reader of it.
	Repo func(ctx context.Context, repoURL, revision, credentialsRef string) (sha string, repo Repo, err error)
}

// Repo reads one commit of a repository.
type Repo interface {
	// List returns every directory and file, sorted.
	List() (dirs, files []string, err error)
	// ReadFile returns one file, at most maxBytes long.
	ReadFile(name string, maxBytes int64) ([]byte, error)
}

// Result is what one generation produced.
type Result struct {
	Params []Params
	// GitRevision is the commit the git generators read (the last, when several).
	GitRevision string
}

// Generate runs every generator of spec and returns the sets of parameters, in the generators'
// order. An error names the generator (spec.generators[i]...).
func Generate(ctx context.Context, spec gitopsv1alpha1.ApplicationSetSpec, src Sources) (Result, error) {
	var res Result
	for i, g := range spec.Generators {
		field := fmt.Sprintf("spec.generators[%d]", i)
		var params []Params
		var err error
		if g.Matrix != nil {
			params, err = matrix(ctx, g.Matrix, src, field+".matrix", &res)
		} else {
			params, err = one(ctx, gitopsv1alpha1.ApplicationSetNestedGenerator{List: g.List, Clusters: g.Clusters, Git: g.Git}, src, field, &res)
		}
		if err != nil {
			return res, err
		}
		res.Params = append(res.Params, params...)
		if len(res.Params) > MaxParams {
			return res, fmt.Errorf("the generators make more than %d sets of parameters", MaxParams)
		}
	}
	return res, nil
}

func one(ctx context.Context, g gitopsv1alpha1.ApplicationSetNestedGenerator, src Sources, field string, res *Result) ([]Params, error) {
	switch {
	case g.List != nil:
		return list(g.List, field+".list")
	case g.Clusters != nil:
		return clusters(g.Clusters, src, field+".clusters")
	case g.Git != nil:
		return git(ctx, g.Git, src, field+".git", res)
	}
	return nil, fmt.Errorf("%s: names no generator", field)
}

func matrix(ctx context.Context, m *gitopsv1alpha1.MatrixGenerator, src Sources, field string, res *Result) ([]Params, error) {
	if len(m.Generators) != 2 {
		return nil, fmt.Errorf("%s.generators: a matrix combines exactly two generators, not %d", field, len(m.Generators))
	}
	left, err := one(ctx, m.Generators[0], src, field+".generators[0]", res)
	if err != nil {
		return nil, err
	}
	right, err := one(ctx, m.Generators[1], src, field+".generators[1]", res)
	if err != nil {
		return nil, err
	}
	if len(left)*len(right) > MaxParams {
		return nil, fmt.Errorf("%s: %d × %d combinations is more than %d", field, len(left), len(right), MaxParams)
	}
	out := make([]Params, 0, len(left)*len(right))
	for _, l := range left {
		for _, r := range right {
			out = append(out, Params(render.MergeValues(l, r)))
		}
	}
	return out, nil
}

func list(l *gitopsv1alpha1.ListGenerator, field string) ([]Params, error) {
	out := make([]Params, 0, len(l.Elements))
	for i, e := range l.Elements {
		var p map[string]any
		if err := json.Unmarshal(e.Raw, &p); err != nil || p == nil {
			return nil, fmt.Errorf("%s.elements[%d]: not a JSON object of parameters", field, i)
		}
		out = append(out, p)
	}
	return out, nil
}

func clusters(g *gitopsv1alpha1.ClusterGenerator, src Sources, field string) ([]Params, error) {
	selector, err := metav1.LabelSelectorAsSelector(&g.Selector)
	if err != nil {
		return nil, fmt.Errorf("%s.selector: %w", field, err)
	}
	if src.Clusters == nil {
		return nil, fmt.Errorf("%s: this server knows no Clusters", field)
	}
	all, err := src.Clusters()
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	var out []Params
	for _, c := range all {
		if !selector.Matches(labels.Set(c.Labels)) || c.DeletionTimestamp != nil {
			continue
		}
		if src.MayUse != nil {
			ok, err := src.MayUse(c.Name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			if !ok {
				continue
			}
		}
		values := map[string]any{}
		for k, v := range g.Values {
			values[k] = v
		}
		out = append(out, Params{
			"name":   c.Name,
			"server": c.Spec.Server,
			"metadata": map[string]any{
				"labels":      stringMap(c.Labels),
				"annotations": stringMap(c.Annotations),
			},
			"values": values,
		})
	}
	return out, nil
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func git(ctx context.Context, g *gitopsv1alpha1.GitGenerator, src Sources, field string, res *Result) ([]Params, error) {
	if src.Repo == nil {
		return nil, fmt.Errorf("%s: this server reads no repositories", field)
	}
	ref := ""
	if g.CredentialsRef != nil {
		ref = g.CredentialsRef.Name
	}
	sha, repo, err := src.Repo(ctx, g.RepoURL, g.Revision, ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	res.GitRevision = sha
	dirs, files, err := repo.List()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	var out []Params
	if len(g.Directories) > 0 {
		for _, d := range dirs {
			if matchDirectories(g.Directories, d) {
				out = append(out, Params{"path": pathParams(d)})
			}
		}
	}
	for i, f := range g.Files {
		for _, name := range files {
			if ok, _ := path.Match(f.Path, name); !ok {
				continue
			}
			p, err := fileParams(repo, name)
			if err != nil {
				return nil, fmt.Errorf("%s.files[%d]: %s: %w", field, i, name, err)
			}
			p["path"] = pathParams(path.Dir(name))
			out = append(out, p)
		}
	}
	return out, nil
}

func matchDirectories(items []gitopsv1alpha1.GitDirectoryGeneratorItem, dir string) bool {
	matched := false
	for _, it := range items {
		if ok, _ := path.Match(it.Path, dir); ok {
			if it.Exclude {
				return false
			}
			matched = true
		}
	}
	return matched
}

func fileParams(repo Repo, name string) (Params, error) {
	text, err := repo.ReadFile(name, MaxGitFileBytes)
	if err != nil {
		return nil, err
	}
	if err := render.CheckAliases(name, text, maxParamNodes); err != nil {
		return nil, err
	}
	var p map[string]any
	if err := yaml.Unmarshal(text, &p); err != nil {
		return nil, fmt.Errorf("not a YAML or JSON object: %w", err)
	}
	if p == nil {
		p = map[string]any{}
	}
	return p, nil
}

// pathParams describes a directory as Argo CD's git generator does.
func pathParams(dir string) map[string]any {
	segments := []any{}
	for _, s := range strings.Split(dir, "/") {
		if s != "" && s != "." {
			segments = append(segments, s)
		}
	}
	base := path.Base(dir)
	return map[string]any{
		"path":               dir,
		"basename":           base,
		"basenameNormalized": Normalize(base),
		"segments":           segments,
	}
}
