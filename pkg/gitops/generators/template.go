// Package generators turns an ApplicationSet's generators into sets of parameters, and its
// template into one Application per set. It knows nothing of the API server: the ApplicationSet
// controller gives it the Clusters and the Git cache.
package generators

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Params is one set of parameters: strings, and nested maps of them (metadata.labels.env).
type Params map[string]any

// funcs are the functions templates may call besides Go's built-ins.
var funcs = template.FuncMap{
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"normalize":  Normalize,
	"default": func(def string, v any) string {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
		return def
	},
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// Normalize makes s usable in a DNS-1123 name: lower case, runs of other characters made "-",
// no leading or trailing "-".
func Normalize(s string) string {
	return strings.Trim(notDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// ParseStrings checks every string of the template parses as a Go template, and returns the
// JSON path of the first that does not with the error.
func ParseStrings(tmpl gitopsv1alpha1.ApplicationSetTemplate) (string, error) {
	doc, err := toJSONTree(tmpl)
	if err != nil {
		return "", err
	}
	var badPath string
	var badErr error
	_, _ = walkStrings(doc, "spec.template", func(path, s string) (string, error) {
		if badErr == nil {
			if _, err := parse(s); err != nil {
				badPath, badErr = path, err
			}
		}
		return s, nil
	})
	return badPath, badErr
}

func parse(s string) (*template.Template, error) {
	return template.New("").Option("missingkey=error").Funcs(funcs).Parse(s)
}

// Render makes the Application of one set of parameters: every string of the template executed
// over params. A missing parameter is an error naming the field and the parameter.
func Render(tmpl gitopsv1alpha1.ApplicationSetTemplate, params Params) (*gitopsv1alpha1.Application, error) {
	doc, err := toJSONTree(tmpl)
	if err != nil {
		return nil, err
	}
	rendered, err := walkStrings(doc, "spec.template", func(path, s string) (string, error) {
		if !strings.Contains(s, "{{") {
			return s, nil
		}
		t, err := parse(s)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		out := boundedBuffer{max: MaxTemplateOutput}
		if err := t.Execute(&out, map[string]any(params)); err != nil {
			if errors.Is(err, errTooMuchOutput) {
				return "", fmt.Errorf("%s: the template wrote more than %d KiB, the most one field may hold", path, MaxTemplateOutput>>10)
			}
			return "", fmt.Errorf("%s: %s", path, describeExecError(err))
		}
		return out.String(), nil
	})
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(rendered)
	if err != nil {
		return nil, err
	}
	var out gitopsv1alpha1.ApplicationSetTemplate
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("the rendered template is not an Application: %w", err)
	}
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1ObjectMeta(out.Metadata),
		Spec:       out.Spec,
	}, nil
}

// MaxTemplateOutput bounds what one string of a template may expand to: more than any field of
// an Application holds, far less than a template looping without end would write.
const MaxTemplateOutput = 1 << 20

var errTooMuchOutput = errors.New("template output over its limit")

// boundedBuffer is a buffer that refuses to grow past max bytes, which stops the template
// writing to it at that point.
type boundedBuffer struct {
	bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errTooMuchOutput
	}
	return b.Buffer.Write(p)
}

// RenderAll makes the Application of each set of parameters, in order; the first failure is
// the error, naming the set. It bounds each field's output, not time: Ferry runs it in a render
// worker (package worker), stopped at its deadline.
func RenderAll(tmpl gitopsv1alpha1.ApplicationSetTemplate, params []Params) ([]*gitopsv1alpha1.Application, error) {
	apps := make([]*gitopsv1alpha1.Application, 0, len(params))
	for i, p := range params {
		app, err := Render(tmpl, p)
		if err != nil {
			return nil, &ParamsError{Index: i, Err: err}
		}
		apps = append(apps, app)
	}
	return apps, nil
}

// ParamsError is a template that failed for one set of parameters.
type ParamsError struct {
	Index int
	Err   error
}

func (e *ParamsError) Error() string { return fmt.Sprintf("parameters %d: %v", e.Index, e.Err) }
func (e *ParamsError) Unwrap() error { return e.Err }

// describeExecError shortens text/template's error ("template: :1:3: executing \"\" at <.nmea>:
// map has no entry for key \"nmea\"") to what a user needs.
func describeExecError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "map has no entry for key"); i >= 0 {
		return "no parameter " + strings.TrimPrefix(msg[i:], "map has no entry for key ")
	}
	if i := strings.Index(msg, "executing"); i >= 0 {
		return msg[i:]
	}
	return msg
}

func toJSONTree(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc any
	return doc, json.Unmarshal(data, &doc)
}

// walkStrings returns doc with every string value (not map keys) replaced by f's result, in a
// stable order so the first error is always the same one.
func walkStrings(doc any, path string, f func(path, s string) (string, error)) (any, error) {
	switch v := doc.(type) {
	case string:
		return f(path, v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(map[string]any, len(v))
		for _, k := range keys {
			r, err := walkStrings(v[k], path+"."+k, f)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			r, err := walkStrings(e, fmt.Sprintf("%s[%d]", path, i), f)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return doc, nil
}

func metav1ObjectMeta(m gitopsv1alpha1.ApplicationSetTemplateMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Labels: m.Labels, Annotations: m.Annotations}
}
