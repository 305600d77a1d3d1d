// Package diff compares live and desired objects the way a user reads them: normalised YAML
// without the fields the server manages, Secret values masked, as a unified diff.
package diff

import (
	"encoding/base64"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Mask replaces a Secret value in every answer Ferry gives: the key shows, the value never.
const Mask = "<masked>"

// MaskChanged replaces, in a diff's desired object, a Secret value that differs from the live
// one: the diff then says which key a sync changes, still without either value.
const MaskChanged = "<masked: changed>"

// lastApplied is kubectl's client-side apply record, which repeats every value of the object.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// masks are the values MaskSecret leaves alone: the masks themselves, as stringData and as
// data (base64). Nothing else is left: a value is masked whatever it starts with.
var masks = map[string]bool{
	Mask: true, MaskChanged: true,
	base64.StdEncoding.EncodeToString([]byte(Mask)):        true,
	base64.StdEncoding.EncodeToString([]byte(MaskChanged)): true,
}

// isSecret reports whether o is a core Secret.
func isSecret(o *unstructured.Unstructured) bool {
	return o != nil && o.GetKind() == "Secret" && o.GroupVersionKind().Group == ""
}

// MaskSecret replaces the values of a Secret's data and stringData with Mask, in place, and
// drops kubectl's last-applied record, which repeats them. Other objects are left alone.
func MaskSecret(o *unstructured.Unstructured) {
	if !isSecret(o) {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		values, ok, _ := unstructured.NestedMap(o.Object, field)
		if !ok {
			continue
		}
		for k, v := range values {
			if s, _ := v.(string); !masks[s] {
				values[k] = maskFor(field, Mask)
			}
		}
		_ = unstructured.SetNestedMap(o.Object, values, field)
	}
	if ann := o.GetAnnotations(); ann[lastApplied] != "" {
		delete(ann, lastApplied)
		o.SetAnnotations(ann)
	}
}

// maskFor is mask as a value of field: base64 in data, as the API server would return it.
func maskFor(field, mask string) string {
	if field == "data" {
		return base64.StdEncoding.EncodeToString([]byte(mask))
	}
	return mask
}

// markChanged replaces, in desired, each Secret value that differs from live's with
// MaskChanged, so that the masked diff still shows the key. Both are copies.
func markChanged(live, desired *unstructured.Unstructured) {
	if !isSecret(live) || !isSecret(desired) {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		was, _, _ := unstructured.NestedMap(live.Object, field)
		now, ok, _ := unstructured.NestedMap(desired.Object, field)
		if !ok {
			continue
		}
		for k, v := range now {
			if old, had := was[k]; had && old != v {
				now[k] = maskFor(field, MaskChanged)
			}
		}
		_ = unstructured.SetNestedMap(desired.Object, now, field)
	}
}

// Normalize returns a copy without what the server manages and users do not write: status,
// managedFields, resourceVersion, uid, generation, timestamps and kubectl's last-applied record.
func Normalize(o *unstructured.Unstructured) *unstructured.Unstructured {
	if o == nil {
		return nil
	}
	c := o.DeepCopy()
	unstructured.RemoveNestedField(c.Object, "status")
	for _, f := range []string{"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	if ann := c.GetAnnotations(); ann != nil {
		delete(ann, lastApplied)
		if len(ann) == 0 {
			unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
		} else {
			c.SetAnnotations(ann)
		}
	}
	MaskSecret(c)
	return c
}

// unmaskedCopy copies o (nil stays nil), for Unified to compare Secret values before masking.
func unmaskedCopy(o *unstructured.Unstructured) *unstructured.Unstructured {
	if o == nil {
		return nil
	}
	return o.DeepCopy()
}

// Unified is the unified diff from live to desired, both normalised; nil stands for an object
// that does not exist.
func Unified(live, desired *unstructured.Unstructured) (string, error) {
	live, desired = unmaskedCopy(live), unmaskedCopy(desired)
	markChanged(live, desired)
	a, err := toYAML(Normalize(live))
	if err != nil {
		return "", err
	}
	b, err := toYAML(Normalize(desired))
	if err != nil {
		return "", err
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(a), B: lines(b),
		FromFile: "live", ToFile: "desired", Context: 3,
	})
}

// lines splits YAML into lines. difflib.SplitLines makes an extra empty line of the final
// newline, and one empty line of a missing object: a created object would then show a blank
// line that is not there.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return difflib.SplitLines(strings.TrimSuffix(s, "\n"))
}

func toYAML(o *unstructured.Unstructured) (string, error) {
	if o == nil {
		return "", nil
	}
	out, err := yaml.Marshal(o.Object)
	return string(out), err
}
