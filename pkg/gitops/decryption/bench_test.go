package decryption_test

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/decryption"
	"github.com/ferry-gitops/ferry/pkg/gitops/decryption/decryptiontest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// BenchmarkFiles: what decryption costs a render. files=100/encrypted=0 is every render of an
// Application whose repository holds no encrypted file (each file is scanned for SOPS's
// marker); encrypted=N decrypts N age-encrypted Secrets among them.
func BenchmarkFiles(b *testing.B) {
	id := decryptiontest.NewAgeIdentity(b)
	keys, err := decryption.KeysFromSecret(map[string][]byte{"k.agekey": []byte(id.String())})
	if err != nil {
		b.Fatal(err)
	}
	deployment := strings.Repeat("# a Deployment of about 2 KiB, as users write them\n", 40)
	for _, encrypted := range []int{0, 1, 10} {
		files := make([]source.File, 100)
		for i := range files {
			files[i] = source.File{Path: fmt.Sprintf("app/object-%03d.yaml", i), Data: []byte(deployment)}
		}
		for i := 0; i < encrypted; i++ {
			secret := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: s%d}\nstringData:\n  password: value-%d-0123456789\n  token: token-%d-abcdefghij\n", i, i, i)
			files[i].Data = decryptiontest.EncryptAge(b, files[i].Path, []byte(secret), decryptiontest.Options{EncryptedRegex: "^stringData$"}, id.Recipient())
		}
		b.Run(fmt.Sprintf("files=100/encrypted=%d", encrypted), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decryption.NewDecryptor(keys).Files(files); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckConfined: what looking for decrypted values costs a render of 1,000 objects of
// about 1 KiB each, with 20 decrypted values in every form they are looked for.
func BenchmarkCheckConfined(b *testing.B) {
	id := decryptiontest.NewAgeIdentity(b)
	keys, err := decryption.KeysFromSecret(map[string][]byte{"k.agekey": []byte(id.String())})
	if err != nil {
		b.Fatal(err)
	}
	var secret strings.Builder
	secret.WriteString("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&secret, "  k%d: value-%d-0123456789abcdef\n", i, i)
	}
	d := decryption.NewDecryptor(keys)
	enc := decryptiontest.EncryptAge(b, "s.yaml", []byte(secret.String()), decryptiontest.Options{EncryptedRegex: "^stringData$"}, id.Recipient())
	if _, err := d.Files([]source.File{{Path: "s.yaml", Data: enc}}); err != nil {
		b.Fatal(err)
	}
	objs := make([]*unstructured.Unstructured, 1000)
	for i := range objs {
		objs[i] = &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]interface{}{"name": fmt.Sprintf("web-%d", i), "labels": map[string]interface{}{"app": "web", "tier": "frontend"}},
			"spec": map[string]interface{}{"replicas": int64(3), "template": map[string]interface{}{"spec": map[string]interface{}{"containers": []interface{}{
				map[string]interface{}{"name": "web", "image": "registry.example.com/shop/web:v1.2.3", "args": []interface{}{"--listen=:8080", "--log-format=json", "--cache-dir=/var/cache/web"},
					"env": []interface{}{map[string]interface{}{"name": "DATABASE_HOST", "value": "db.shop.svc.cluster.local"}}},
			}}}},
		}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := d.CheckConfined(objs); err != nil {
			b.Fatal(err)
		}
	}
}
