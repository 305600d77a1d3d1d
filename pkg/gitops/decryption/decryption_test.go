package decryption_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/decryption"
	"github.com/ferry-gitops/ferry/pkg/gitops/decryption/decryptiontest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  labels:
    app: shop
type: Opaque
stringData:
  username: shop
  password: s3cr3t-Hunter-77
  url: postgres://shop:s3cr3t-Hunter-77@db:5432/shop
`

func ageKeys(t *testing.T) (*decryption.Keys, func(name, plain string, o decryptiontest.Options) []byte) {
	t.Helper()
	id := decryptiontest.NewAgeIdentity(t)
	keys, err := decryption.KeysFromSecret(map[string][]byte{"identity.agekey": []byte("# created by age-keygen\n" + id.String() + "\n")})
	if err != nil {
		t.Fatal(err)
	}
	return keys, func(name, plain string, o decryptiontest.Options) []byte {
		return decryptiontest.EncryptAge(t, name, []byte(plain), o, id.Recipient())
	}
}

func decode(t *testing.T, data []byte) map[string]interface{} {
	t.Helper()
	var obj map[string]interface{}
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatalf("decrypted file is not YAML: %v\n%s", err, data)
	}
	return obj
}

func TestAnAgeEncryptedSecretDecryptsToWhatWasEncrypted(t *testing.T) {
	keys, encrypt := ageKeys(t)
	for _, regex := range []string{"", "^(data|stringData)$"} {
		enc := encrypt("base/secret.yaml", secretYAML, decryptiontest.Options{EncryptedRegex: regex})
		if bytes.Contains(enc, []byte("s3cr3t-Hunter-77")) {
			t.Fatalf("the encrypted file holds the password in clear:\n%s", enc)
		}
		d := decryption.NewDecryptor(keys)
		files := []source.File{{Path: "base/kustomization.yaml", Data: []byte("resources: [secret.yaml]\n")}, {Path: "base/secret.yaml", Data: enc}}
		out, err := d.Files(files)
		if err != nil {
			t.Fatalf("encrypted-regex %q: %v", regex, err)
		}
		got, want := decode(t, out[1].Data), decode(t, []byte(secretYAML))
		if got["stringData"].(map[string]interface{})["password"] != "s3cr3t-Hunter-77" || got["kind"] != "Secret" ||
			got["metadata"].(map[string]interface{})["name"] != want["metadata"].(map[string]interface{})["name"] {
			t.Errorf("encrypted-regex %q: decrypted to\n%s", regex, out[1].Data)
		}
		if _, left := got["sops"]; left {
			t.Errorf("encrypted-regex %q: the sops metadata is left in the decrypted file", regex)
		}
		if string(out[0].Data) != string(files[0].Data) {
			t.Errorf("a file that is not encrypted changed")
		}
		if string(files[1].Data) != string(enc) {
			t.Errorf("Files changed the caller's slice")
		}
		// The Secret's name is an identity other objects use: a Deployment naming it is fine.
		deploy := obj(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"shop"},"spec":{"template":{"spec":{"containers":[{"name":"shop","env":[{"name":"DB","valueFrom":{"secretKeyRef":{"name":"db-credentials","key":"url"}}}]}]}}}}`)
		if err := d.CheckConfined([]*unstructured.Unstructured{obj(t, string(mustJSON(t, out[1].Data))), deploy}); err != nil {
			t.Errorf("encrypted-regex %q: a Deployment naming the Secret was refused: %v", regex, err)
		}
		// A short value (the user name "shop") is any other field's too: not looked for.
		named := obj(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"shop","labels":{"app":"shop"}}}`)
		if err := d.CheckConfined([]*unstructured.Unstructured{named}); err != nil {
			t.Errorf("encrypted-regex %q: a Deployment named like a short decrypted value was refused: %v", regex, err)
		}
		leak := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"db"},"data":{"password":"s3cr3t-Hunter-77"}}`)
		if err := d.CheckConfined([]*unstructured.Unstructured{leak}); err == nil || !strings.Contains(err.Error(), "base/secret.yaml") {
			t.Errorf("encrypted-regex %q: a ConfigMap holding the password: got %v", regex, err)
		}
	}
}

func TestAPGPEncryptedFileDecryptsWithTheArmoredPrivateKey(t *testing.T) {
	e := decryptiontest.NewPGPEntity(t)
	keys, err := decryption.KeysFromSecret(map[string][]byte{"ops.asc": decryptiontest.ArmoredPrivateKey(t, e)})
	if err != nil {
		t.Fatal(err)
	}
	enc := decryptiontest.EncryptPGP(t, "secret.yaml", []byte(secretYAML), decryptiontest.Options{EncryptedRegex: "^stringData$"}, e)
	out, err := decryption.NewDecryptor(keys).Files([]source.File{{Path: "secret.yaml", Data: enc}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out[0].Data, []byte("password: s3cr3t-Hunter-77")) {
		t.Errorf("decrypted to\n%s", out[0].Data)
	}
}

func TestDotenvAndBinaryFilesOfASecretGenerator(t *testing.T) {
	keys, encrypt := ageKeys(t)
	env := encrypt("app/secrets.env", "API_TOKEN=tok-0123456789abcdef\nREGION=eu-west-1\n", decryptiontest.Options{})
	pem := "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
	bin := encrypt("app/tls.key", pem, decryptiontest.Options{})
	d := decryption.NewDecryptor(keys)
	out, err := d.Files([]source.File{{Path: "app/secrets.env", Data: env}, {Path: "app/tls.key", Data: bin}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out[0].Data), "API_TOKEN=tok-0123456789abcdef") || !strings.Contains(string(out[0].Data), "REGION=eu-west-1") {
		t.Errorf("dotenv decrypted to\n%s", out[0].Data)
	}
	if string(out[1].Data) != pem {
		t.Errorf("binary file decrypted to\n%q", out[1].Data)
	}
	// A ConfigMap generated from the same env file shows the token: refused, naming the file
	// and the ConfigMap.
	cm := obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings-7h2f"},"data":{"API_TOKEN":"tok-0123456789abcdef"}}`)
	err = d.CheckConfined([]*unstructured.Unstructured{cm})
	if err == nil || !strings.Contains(err.Error(), "app/secrets.env") || !strings.Contains(err.Error(), `ConfigMap "settings-7h2f"`) {
		t.Errorf("a ConfigMap holding a decrypted value: got %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "tok-0123") {
		t.Errorf("the refusal quotes the value: %v", err)
	}
	// Within a longer string too, and in a Secret it is fine.
	embedded := obj(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api"},"spec":{"template":{"metadata":{"annotations":{"curl":"curl -H 'Authorization: tok-0123456789abcdef' x"}}}}}`)
	if err := d.CheckConfined([]*unstructured.Unstructured{embedded}); err == nil {
		t.Errorf("a Deployment quoting a decrypted token in an annotation was accepted")
	}
	secret := obj(t, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"api"},"data":{"API_TOKEN":"dG9rLTAxMjM0NTY3ODlhYmNkZWY="}}`)
	if err := d.CheckConfined([]*unstructured.Unstructured{secret}); err != nil {
		t.Errorf("a Secret holding a decrypted value was refused: %v", err)
	}
	values := strings.Join(d.Values(), "\n")
	for _, want := range []string{"tok-0123456789abcdef", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"} {
		if !strings.Contains(values, want) {
			t.Errorf("Values() misses %q, which a message must mask", want)
		}
	}
}

func TestAWrongOrMissingKeyNamesTheFile(t *testing.T) {
	_, encrypt := ageKeys(t)
	enc := encrypt("overlays/prod/secret.yaml", secretYAML, decryptiontest.Options{})
	other := decryptiontest.NewAgeIdentity(t)
	wrong, err := decryption.KeysFromSecret(map[string][]byte{"old.agekey": []byte(other.String())})
	if err != nil {
		t.Fatal(err)
	}
	_, err = decryption.NewDecryptor(wrong).Files([]source.File{{Path: "overlays/prod/secret.yaml", Data: enc}})
	var fe *decryption.FileError
	if !errors.As(err, &fe) || fe.File != "overlays/prod/secret.yaml" || !strings.Contains(err.Error(), "age1") {
		t.Errorf("a wrong key: got %v, want a FileError naming the file and the recipient", err)
	}
	_, err = decryption.NewDecryptor(nil).Files([]source.File{{Path: "overlays/prod/secret.yaml", Data: enc}})
	if !errors.As(err, &fe) || fe.File != "overlays/prod/secret.yaml" || !strings.Contains(err.Error(), "spec.decryption") {
		t.Errorf("no spec.decryption: got %v, want a FileError naming the file and spec.decryption", err)
	}
}

func TestATamperedFileFailsTheIntegrityCheck(t *testing.T) {
	keys, encrypt := ageKeys(t)
	enc := encrypt("secret.yaml", secretYAML, decryptiontest.Options{EncryptedRegex: "^stringData$"})
	// Someone renames the Secret without re-encrypting: the MAC covers every value.
	tampered := bytes.Replace(enc, []byte("name: db-credentials"), []byte("name: db-credentials-2"), 1)
	if bytes.Equal(tampered, enc) {
		t.Fatal("the test's edit did not apply")
	}
	_, err := decryption.NewDecryptor(keys).Files([]source.File{{Path: "secret.yaml", Data: tampered}})
	if err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Errorf("a tampered file: got %v, want the integrity check to fail", err)
	}
}

func TestAFileQuotingTheMarkerIsLeftAlone(t *testing.T) {
	readme := []byte("Values look like ENC[AES256_GCM,data:...] once encrypted.\n")
	out, err := decryption.NewDecryptor(nil).Files([]source.File{{Path: "README.md", Data: readme}, {Path: "notes.yaml", Data: []byte("note: ENC[AES256_GCM,data:abc]\n")}})
	if err != nil || string(out[0].Data) != string(readme) {
		t.Errorf("got %v", err)
	}
}

func TestKeysFromSecretNamesTheKeyAtFault(t *testing.T) {
	id := decryptiontest.NewAgeIdentity(t)
	if _, err := decryption.KeysFromSecret(map[string][]byte{"token": []byte("x")}); !errors.Is(err, decryption.ErrNoKeys) {
		t.Errorf("a Secret without keys: got %v", err)
	}
	broken := strings.TrimSuffix(id.String(), id.String()[len(id.String())-3:]) + "zzz"
	_, err := decryption.KeysFromSecret(map[string][]byte{"prod.agekey": []byte(broken)})
	if err == nil || !strings.Contains(err.Error(), `"prod.agekey"`) || strings.Contains(err.Error(), broken[15:40]) {
		t.Errorf("a broken age key: got %v, want the key named and its value left out", err)
	}
	e := decryptiontest.NewPGPEntity(t)
	var pub bytes.Buffer
	w, _ := pgparmorEncode(&pub)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if _, err := decryption.KeysFromSecret(map[string][]byte{"ops.asc": pub.Bytes()}); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Errorf("a public PGP key: got %v", err)
	}
}

func obj(t *testing.T, j string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(j)); err != nil {
		t.Fatal(err)
	}
	return u
}

func mustJSON(t *testing.T, y []byte) []byte {
	t.Helper()
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func pgparmorEncode(w *bytes.Buffer) (io.WriteCloser, error) {
	return armor.Encode(w, openpgp.PublicKeyType, nil)
}
