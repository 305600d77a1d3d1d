// Package decryptiontest encrypts files as the sops command does, for tests: with age
// recipients or PGP public keys, without reading any key from the machine.
package decryptiontest

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"filippo.io/age"
	agearmor "filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/pgp"

	"github.com/ferry-gitops/ferry/pkg/gitops/decryption"
)

// Options shape the encryption.
type Options struct {
	// EncryptedRegex encrypts only the values whose keys match, as sops --encrypted-regex;
	// empty encrypts every value.
	EncryptedRegex string
}

// NewAgeIdentity returns a new age identity.
func NewAgeIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// EncryptAge encrypts plain (a file named name, whose extension picks the format) for the age
// recipients.
func EncryptAge(t testing.TB, name string, plain []byte, o Options, recipients ...*age.X25519Recipient) []byte {
	t.Helper()
	return encrypt(t, name, plain, o, func(dataKey []byte) keys.MasterKey {
		var buf bytes.Buffer
		aw := agearmor.NewWriter(&buf)
		var rs []age.Recipient
		for _, r := range recipients {
			rs = append(rs, r)
		}
		w, err := age.Encrypt(aw, rs...)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, w, dataKey)
		mustClose(t, w)
		mustClose(t, aw)
		return &sopsage.MasterKey{Recipient: recipients[0].String(), EncryptedKey: buf.String()}
	})
}

// NewPGPEntity returns a new PGP key without a passphrase.
func NewPGPEntity(t testing.TB) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("Ferry test", "", "test@ferry.invalid", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// ArmoredPrivateKey is e's private key as `gpg --export-secret-keys --armor` writes it.
func ArmoredPrivateKey(t testing.TB, e *openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pgparmor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	mustClose(t, w)
	return buf.Bytes()
}

// EncryptPGP encrypts plain for the PGP key e.
func EncryptPGP(t testing.TB, name string, plain []byte, o Options, e *openpgp.Entity) []byte {
	t.Helper()
	return encrypt(t, name, plain, o, func(dataKey []byte) keys.MasterKey {
		var buf bytes.Buffer
		aw, err := pgparmor.Encode(&buf, "PGP MESSAGE", nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := openpgp.Encrypt(aw, []*openpgp.Entity{e}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, w, dataKey)
		mustClose(t, w)
		mustClose(t, aw)
		return &pgp.MasterKey{Fingerprint: fingerprint(e), EncryptedKey: buf.String()}
	})
}

func fingerprint(e *openpgp.Entity) string {
	const hex = "0123456789ABCDEF"
	fp := e.PrimaryKey.Fingerprint
	out := make([]byte, 0, 2*len(fp))
	for _, b := range fp {
		out = append(out, hex[b>>4], hex[b&15])
	}
	return string(out)
}

func encrypt(t testing.TB, name string, plain []byte, o Options, wrap func(dataKey []byte) keys.MasterKey) []byte {
	t.Helper()
	store := decryption.StoreFor(name)
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		t.Fatalf("sops cannot read %s: %v", name, err)
	}
	dataKey := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, dataKey); err != nil {
		t.Fatal(err)
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups:      []sops.KeyGroup{{wrap(dataKey)}},
		EncryptedRegex: o.EncryptedRegex,
		Version:        "3.13.3",
	}}
	// As the sops command does: the values, then the MAC over them, stamped with the time.
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatalf("encrypting %s: %v", name, err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		t.Fatalf("encrypting the MAC of %s: %v", name, err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatalf("writing encrypted %s: %v", name, err)
	}
	return out
}

func mustWrite(t testing.TB, w io.Writer, b []byte) {
	t.Helper()
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
}

func mustClose(t testing.TB, c io.Closer) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
