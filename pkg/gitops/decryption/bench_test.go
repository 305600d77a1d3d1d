package decryption_test

import (
	"fmt"
	"strings"
	"testing"

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
