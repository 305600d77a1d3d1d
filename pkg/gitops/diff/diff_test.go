package diff

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestUnifiedShowsOnlyWhatUsersWrite(t *testing.T) {
	live := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c", "resourceVersion": "42", "uid": "u", "managedFields": []any{map[string]any{"manager": "x"}}},
		"data":     map[string]any{"a": "1", "b": "2"},
	}}
	desired := live.DeepCopy()
	desired.Object["data"].(map[string]any)["b"] = "3"
	unstructured.RemoveNestedField(desired.Object, "metadata", "resourceVersion")
	d, err := Unified(live, desired)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d, "-  b: \"2\"") || !strings.Contains(d, "+  b: \"3\"") {
		t.Errorf("diff does not show the change of b:\n%s", d)
	}
	for _, noise := range []string{"resourceVersion", "uid", "managedFields"} {
		if strings.Contains(d, noise) {
			t.Errorf("diff shows %s:\n%s", noise, d)
		}
	}
	if same, _ := Unified(live, live.DeepCopy()); same != "" {
		t.Errorf("an object compared with itself diffs:\n%s", same)
	}
}

func TestSecretValuesNeverShow(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s",
			"annotations": map[string]any{lastApplied: `{"stringData":{"pw":"hunter2"}}`}},
		"data":       map[string]any{"pw": "aHVudGVyMg=="},
		"stringData": map[string]any{"token": "hunter3"},
	}}
	d, err := Unified(nil, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"hunter2", "hunter3", "aHVudGVyMg=="} {
		if strings.Contains(d, leak) {
			t.Errorf("diff leaks %s:\n%s", leak, d)
		}
	}
	if !strings.Contains(d, "pw:") || !strings.Contains(d, "token: <masked>") {
		t.Errorf("the keys should show:\n%s", d)
	}
}

func TestCreatedAndDeletedObjectsAreAllAddedOrRemoved(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "c"},
		"data":     map[string]any{"a": "1"},
	}}
	for _, tc := range []struct {
		name          string
		live, desired *unstructured.Unstructured
		hunk, sign    string
	}{
		{"create", nil, obj, "@@ -0,0 +1,", "+"},
		{"delete", obj, nil, "@@ -1,", "-"},
	} {
		d, err := Unified(tc.live, tc.desired)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(d, "\n"), "\n")
		if len(lines) < 4 || !strings.HasPrefix(lines[2], tc.hunk) {
			t.Fatalf("%s: hunk header %q, want %s...:\n%s", tc.name, lines[2], tc.hunk, d)
		}
		for _, l := range lines[3:] {
			if !strings.HasPrefix(l, tc.sign) {
				t.Errorf("%s: line %q is not %s: a missing object has no lines to keep:\n%s", tc.name, l, tc.sign, d)
			}
		}
	}
}
