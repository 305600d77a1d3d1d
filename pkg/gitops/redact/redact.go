// Package redact keeps Secret values out of Ferry's messages. A render or apply error can quote
// what it failed on — kustomize echoes a malformed secretGenerator literal, an API server may
// quote an invalid value — and those messages go to conditions, Events, logs and API responses
// that people without access to the Secrets read. Values are collected from what the error
// could have seen (the repository's files, the rendered objects) and replaced wherever they
// appear in the text.
package redact

import (
	"bytes"
	"encoding/base64"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// Mask stands in a message for a Secret value.
const Mask = "<masked>"

// minLength is the shortest value masked: shorter ones ("1", "true") would mask every
// occurrence of common words and numbers in the message while protecting nothing.
const minLength = 4

// Values are the Secret values one message must not contain.
type Values struct {
	set map[string]bool
}

// add records v, its base64 form, and each of its lines: a message may quote any of them.
func (s *Values) add(v string) {
	if s.set == nil {
		s.set = map[string]bool{}
	}
	for _, line := range append(strings.Split(v, "\n"), v) {
		if line = strings.TrimSpace(line); len(line) >= minLength {
			s.set[line] = true
			s.set[base64.StdEncoding.EncodeToString([]byte(line))] = true
		}
	}
}

// Add records values (decrypted ones, say) besides those s was made from, and returns s.
func (s *Values) Add(values ...string) *Values {
	for _, v := range values {
		s.add(v)
	}
	return s
}

// Empty reports whether there is nothing to mask.
func (s *Values) Empty() bool { return s == nil || len(s.set) == 0 }

// String replaces every value in msg with Mask, longest first so that a value containing
// another is masked whole.
func (s *Values) String(msg string) string {
	if s.Empty() {
		return msg
	}
	values := make([]string, 0, len(s.set))
	for v := range s.set {
		values = append(values, v)
	}
	sort.Slice(values, func(i, j int) bool { return len(values[i]) > len(values[j]) })
	for _, v := range values {
		msg = strings.ReplaceAll(msg, v, Mask)
	}
	return msg
}

// FromObjects collects the values of the Secrets among objs: data (decoded, and as written) and
// stringData.
func FromObjects(objs []*unstructured.Unstructured) *Values {
	s := &Values{}
	for _, o := range objs {
		s.addSecret(o.Object)
	}
	return s
}

func (s *Values) addSecret(obj map[string]interface{}) {
	u := unstructured.Unstructured{Object: obj}
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		values, _, _ := unstructured.NestedMap(obj, field)
		for _, v := range values {
			str, ok := v.(string)
			if !ok {
				continue
			}
			s.add(str)
			if field == "data" {
				if decoded, err := base64.StdEncoding.DecodeString(str); err == nil {
					s.add(string(decoded))
				}
			}
		}
	}
}

// FromFiles collects the Secret values a repository's files hold: the manifests of kind Secret,
// and what each kustomization's secretGenerator, or builtin SecretGenerator config (a file or an
// inline entry of generators:), makes a Secret of — literals (whole, malformed ones included,
// and their values), files and env files (read from files, relative to the kustomization or the
// config).
func FromFiles(files []source.File) *Values {
	s := &Values{}
	byPath := make(map[string][]byte, len(files))
	for _, f := range files {
		byPath[f.Path] = f.Data
	}
	for _, f := range files {
		switch base := path.Base(f.Path); {
		case base == "kustomization.yaml" || base == "kustomization.yml" || base == "Kustomization":
			s.addGenerated(path.Dir(f.Path), f.Data, byPath)
		case strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, ".json"):
			if bytes.Contains(f.Data, []byte("Secret")) {
				s.addManifests(path.Dir(f.Path), f.Data, byPath)
			}
		}
	}
	return s
}

// addManifests collects the values of the Secrets, and of the SecretGenerator configs (a
// kustomization's generators: file), among the YAML documents of data, a file of dir.
func (s *Values) addManifests(dir string, data []byte, files map[string][]byte) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj map[string]interface{}
		if err := dec.Decode(&obj); err != nil {
			return // the end, or what the render reports as invalid
		}
		s.addSecret(obj)
		s.addGeneratorConfig(dir, obj, files)
	}
}

// addGeneratorConfig collects what a builtin SecretGenerator config makes a Secret of: the
// same fields as a kustomization's secretGenerator entry, at the top level of the object.
func (s *Values) addGeneratorConfig(dir string, obj map[string]interface{}, files map[string][]byte) {
	if kind, _ := obj["kind"].(string); kind != "SecretGenerator" {
		return
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return
	}
	var args types.SecretArgs
	if err := yaml.Unmarshal(data, &args); err != nil {
		return
	}
	s.addSecretArgs(dir, args, files)
}

func (s *Values) addGenerated(dir string, data []byte, files map[string][]byte) {
	var k types.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return
	}
	for _, g := range k.SecretGenerator {
		s.addSecretArgs(dir, g, files)
	}
	// generators: entries are files (read as manifests, above) or inline configs.
	for _, g := range k.Generators {
		if strings.Contains(g, "\n") {
			s.addManifests(dir, []byte(g), files)
		}
	}
}

// addSecretArgs collects what one secretGenerator makes a Secret of, its files read relative
// to dir.
func (s *Values) addSecretArgs(dir string, g types.SecretArgs, files map[string][]byte) {
	for _, lit := range g.LiteralSources {
		s.add(lit)
		if _, v, ok := strings.Cut(lit, "="); ok {
			s.add(strings.Trim(v, `"'`))
		}
	}
	sources := append(append([]string{}, g.FileSources...), g.EnvSources...)
	if g.EnvSource != "" { //nolint:staticcheck // the deprecated form old kustomizations still use
		sources = append(sources, g.EnvSource) //nolint:staticcheck
	}
	for _, src := range sources {
		// files entries may be key=path.
		if _, p, ok := strings.Cut(src, "="); ok {
			src = p
		}
		content, ok := files[path.Join(dir, src)]
		if !ok {
			continue
		}
		s.add(string(content))
		for _, line := range strings.Split(string(content), "\n") {
			if _, v, ok := strings.Cut(line, "="); ok {
				s.add(v)
			}
		}
	}
}

// Error returns err with its message masked; errors.Is and errors.As still see err.
func Error(err error, values *Values) error {
	if err == nil || values.Empty() {
		return err
	}
	return &masked{err: err, msg: values.String(err.Error())}
}

type masked struct {
	err error
	msg string
}

func (m *masked) Error() string { return m.msg }
func (m *masked) Unwrap() error { return m.err }
