package decryption_test

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/decryption"
	"github.com/ferry-gitops/ferry/pkg/gitops/decryption/decryptiontest"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

const password = "s3cr3t-Hunter-77"

// renderDecrypted renders dir of files as the engine does: each file decrypted as it is read,
// then the render's objects checked for decrypted values.
func renderDecrypted(t *testing.T, d *decryption.Decryptor, files []source.File, dir string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	read := render.FilesReader(files)
	objs, err := render.RenderTree(func(dir string) ([]source.File, error) {
		files, err := read(dir)
		if err != nil {
			return nil, err
		}
		return d.Files(files)
	}, dir, render.Options{})
	if err != nil {
		t.Fatalf("the render itself failed: %v", err)
	}
	return objs, d.CheckConfined(objs)
}

// wantRefused checks a refusal that names the file, the object and the field, and never the
// value in any form.
func wantRefused(t *testing.T, err error, what string, parts ...string) {
	t.Helper()
	var fe *decryption.FileError
	if !errors.As(err, &fe) {
		t.Errorf("%s: accepted (%v), want the render refused", what, err)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: the refusal does not say %q: %v", what, p, err)
		}
	}
	msg := strings.ToLower(err.Error())
	for _, leaked := range []string{password, base64.StdEncoding.EncodeToString([]byte(password)), hex.EncodeToString([]byte(password))} {
		if strings.Contains(msg, strings.ToLower(leaked)) {
			t.Errorf("%s: the refusal quotes the value: %v", what, err)
		}
	}
}

// TestAReplacementCopyingTheSecretIntoItsOwnAnnotationIsRefused: a kustomize replacement copies
// a decrypted stringData.password into an annotation of the same Secret, which /manifests and
// /diff show unmasked. The render is refused, naming the Secret and the annotation.
func TestAReplacementCopyingTheSecretIntoItsOwnAnnotationIsRefused(t *testing.T) {
	keys, encrypt := ageKeys(t)
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + password + "\n"
	files := []source.File{
		{Path: "app/kustomization.yaml", Data: []byte(`resources: [secret.yaml]
replacements:
- source: {kind: Secret, name: db, fieldPath: stringData.password}
  targets:
  - select: {kind: Secret, name: db}
    fieldPaths: [metadata.annotations.note]
    options: {create: true}
`)},
		{Path: "app/secret.yaml", Data: encrypt("app/secret.yaml", secret, decryptiontest.Options{EncryptedRegex: "^stringData$"})},
	}
	objs, err := renderDecrypted(t, decryption.NewDecryptor(keys), files, "app")
	if len(objs) != 1 || objs[0].GetAnnotations()["note"] != password {
		t.Fatalf("the replacement did not copy the password into the annotation, the test shows nothing: %v", objs)
	}
	wantRefused(t, err, "a replacement into the Secret's annotation", "app/secret.yaml", `Secret "db"`, "metadata.annotations.note")

	// Without the replacement the same Secret renders.
	files[0].Data = []byte("resources: [secret.yaml]\n")
	if _, err := renderDecrypted(t, decryption.NewDecryptor(keys), files, "app"); err != nil {
		t.Errorf("the Secret alone was refused: %v", err)
	}
}

// TestAChartEncodingADecryptedValueIntoAConfigMapIsRefused: a chart's template writes a value of
// its SOPS-encrypted values file into a ConfigMap through b64enc, printf "%x", upper and other
// reversible functions. Each is refused, naming the encoding and the field.
func TestAChartEncodingADecryptedValueIntoAConfigMapIsRefused(t *testing.T) {
	keys, encrypt := ageKeys(t)
	values := encrypt("chart/values.yaml", "password: "+password+"\n", decryptiontest.Options{})
	for _, tc := range []struct{ template, how string }{
		{`{{ .Values.password }}`, "at data.v:"},
		{`{{ .Values.password | b64enc }}`, "base64-encoded"},
		{`{{ .Values.password | b32enc }}`, "base32-encoded"},
		{`{{ printf "%x" .Values.password }}`, "hex-encoded"},
		{`{{ printf "%X" .Values.password }}`, "hex-encoded"},
		{`{{ .Values.password | upper }}`, "at data.v:"},
		{`{{ .Values.password | lower }}`, "at data.v:"},
		{`{{ .Values.password | urlquery }}`, "at data.v:"},
		{`{{ printf "user=app;password=%s" .Values.password | b64enc }}`, "base64-encoded"},
		{`{{ printf "u:%s" .Values.password | b64enc }}`, "base64-encoded"},
		{`{{ printf "us:%s" .Values.password | b64enc }}`, "base64-encoded"},
		{`{{ .Values.password | upper | b64enc }}`, "base64-encoded"},
		{`{{ printf "%x" .Values.password | b64enc }}`, "hex-encoded, then base64-encoded"},
	} {
		files := []source.File{
			{Path: "chart/Chart.yaml", Data: []byte("apiVersion: v2\nname: shop\nversion: 1.0.0\n")},
			{Path: "chart/values.yaml", Data: values},
			{Path: "chart/templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  v: \"" + tc.template + "\"\n")},
		}
		_, err := renderDecrypted(t, decryption.NewDecryptor(keys), files, "chart")
		wantRefused(t, err, tc.template, "chart/values.yaml", `ConfigMap "settings"`, "data.v", tc.how)
	}
}

// TestEveryFieldOfEveryObjectIsLookedAt: labels, annotations, a Secret's metadata and the keys of
// its data, nested lists, numbers and every common encoding; the values of a Secret's data and
// stringData, and what does not reveal a value, are accepted.
func TestEveryFieldOfEveryObjectIsLookedAt(t *testing.T) {
	keys, encrypt := ageKeys(t)
	d := decryption.NewDecryptor(keys)
	files := []source.File{{Path: "secret.yaml", Data: encrypt("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: "+password+"\n  pin: \"4815162342\"\n", decryptiontest.Options{EncryptedRegex: "^stringData$"})}}
	if _, err := d.Files(files); err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(password))
	for _, tc := range []struct {
		name, object, path string
	}{
		{"a label", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"x":"` + password + `"}}}`, "metadata.labels.x"},
		{"a Secret's annotation", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","annotations":{"example.com/note":"` + b64 + `"}},"data":{"password":"` + b64 + `"}}`, "metadata.annotations[example.com/note]"},
		{"a key of a Secret's data", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"` + password + `":"x"}}`, "stringData (one of its keys)"},
		{"a key of a ConfigMap", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"` + strings.ToUpper(password) + `":"x"}}`, "data (one of its keys)"},
		{"a container's argument", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","args":["--token=` + hex.EncodeToString([]byte(password)) + `"]}]}}`, "spec.containers[0].args[0]"},
		{"a number", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"spec":{"pin":4815162342}}`, "spec.pin"},
		{"a custom resource's Secret kind", `{"apiVersion":"example.com/v1","kind":"Secret","metadata":{"name":"s"},"data":{"password":"` + password + `"}}`, "data.password"},
		{"URL-escaped base64", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"u":"https://x/?t=` + url.QueryEscape(b64) + `"}}`, "data.u"},
		{"base32 within a longer text", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"u":"` + base32.StdEncoding.EncodeToString([]byte("abc"+password+"xyz")) + `"}}`, "data.u"},
	} {
		err := d.CheckConfined([]*unstructured.Unstructured{obj(t, tc.object)})
		wantRefused(t, err, tc.name, "secret.yaml", "at "+tc.path)
	}

	for _, tc := range []struct{ name, object string }{
		{"a Secret's data", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"password":"` + b64 + `","pin":"NDgxNTE2MjM0Mg=="}}`},
		{"a Secret's stringData", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"url":"postgres://app:` + password + `@db/shop"}}`},
		{"a checksum of the Secret", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","annotations":{"checksum/secret":"8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92"}}}`},
		{"ordinary words and numbers", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"region":"eu-west-1","replicas":"3","port":8080,"motd":"welcome to the shop"}}`},
	} {
		if err := d.CheckConfined([]*unstructured.Unstructured{obj(t, tc.object)}); err != nil {
			t.Errorf("%s was refused: %v", tc.name, err)
		}
	}
}
