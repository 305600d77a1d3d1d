package diff

import (
	"encoding/base64"
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

// TestSecretValuesAreMaskedWhateverTheyStartWith: a value is not taken for a mask because of
// its first character, and a changed value shows as a changed key, neither value visible.
func TestSecretValuesAreMaskedWhateverTheyStartWith(t *testing.T) {
	secret := func(data map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"}, "data": data,
		}}
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	live := secret(map[string]any{"star": "*starts-with-a-star", "same": b64("unchanged-value"), "pw": b64("old-password")})
	desired := secret(map[string]any{"star": "*starts-with-a-star", "same": b64("unchanged-value"), "pw": b64("new-password"), "added": b64("added-value")})
	d, err := Unified(live, desired)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"starts-with-a-star", "unchanged-value", "old-password", "new-password", "added-value"} {
		for _, form := range []string{leak, b64(leak)} {
			if strings.Contains(d, form) {
				t.Errorf("diff leaks %s:\n%s", form, d)
			}
		}
	}
	if !strings.Contains(d, "-  pw: "+b64(Mask)) || !strings.Contains(d, "+  pw: "+b64(MaskChanged)) || !strings.Contains(d, "+  added: "+b64(Mask)) {
		t.Errorf("the diff should show pw changed and added added, masked:\n%s", d)
	}
	for _, line := range strings.Split(d, "\n") {
		changed := strings.HasPrefix(line, "-  ") || strings.HasPrefix(line, "+  ")
		if changed && (strings.Contains(line, "star:") || strings.Contains(line, "same:")) {
			t.Errorf("an unchanged key is a diff line: %q\n%s", line, d)
		}
	}
	masked := live.DeepCopy()
	MaskSecret(masked)
	if v := masked.Object["data"].(map[string]any)["star"]; v != b64(Mask) {
		t.Errorf("a value starting with * was left as %v", v)
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
