// Package decryption decrypts the SOPS-encrypted files of a repository as they are rendered,
// with the age and PGP private keys of one Secret (an Application's spec.decryption), and keeps
// what it decrypted where it belongs: in the data and stringData of Secrets only (confine.go).
//
// SOPS's own key sources are never used to decrypt: they read keys from the environment, the
// home directory, a gpg binary or agent, and cloud KMS — the server's keys, not the Application's.
// The data key of each file is decrypted here with the Secret's keys alone, and SOPS does the
// rest (key groups, Shamir, AES-GCM, the MAC).
package decryption

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	agearmor "filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/logging"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"google.golang.org/grpc"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

func init() {
	// SOPS logs through its own loggers, at warning level, to stderr: a failed comment's
	// ciphertext and file paths. Ferry reports what matters in the Application's condition.
	for _, l := range logging.Loggers {
		l.SetOutput(io.Discard)
	}
}

// Suffixes of the keys of a decryption Secret, as Flux names them.
const (
	AgeKeySuffix = ".agekey"
	PGPKeySuffix = ".asc"
)

// ErrNoKeys: the Secret holds no key ending .agekey or .asc.
var ErrNoKeys = errors.New("holds no age (*" + AgeKeySuffix + ") or PGP (*" + PGPKeySuffix + ") private key")

// Keys are the private keys of one decryption Secret.
type Keys struct {
	age    []age.Identity
	pgp    openpgp.EntityList
	digest string
}

// KeysFromSecret reads the age identities (keys ending .agekey, one or more per key, comments
// allowed) and armored PGP private keys (keys ending .asc, without a passphrase) of a Secret's
// data. An error names the Secret's key at fault, never its value.
func KeysFromSecret(data map[string][]byte) (*Keys, error) {
	k := &Keys{}
	names := make([]string, 0, len(data))
	for name := range data {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		v := data[name]
		switch {
		case strings.HasSuffix(name, AgeKeySuffix):
			ids, err := age.ParseIdentities(bytes.NewReader(v))
			if err != nil {
				return nil, fmt.Errorf("key %q is not a list of age identities (AGE-SECRET-KEY-1...): %s", name, ageParseReason(err))
			}
			k.age = append(k.age, ids...)
		case strings.HasSuffix(name, PGPKeySuffix):
			entities, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(v))
			if err != nil {
				return nil, fmt.Errorf("key %q is not an armored PGP private key: %v", name, err)
			}
			for _, e := range entities {
				if e.PrivateKey == nil {
					return nil, fmt.Errorf("key %q holds PGP public key %X only: export the private key (gpg --export-secret-keys --armor)", name, e.PrimaryKey.Fingerprint)
				}
				if e.PrivateKey.Encrypted {
					return nil, fmt.Errorf("key %q holds PGP key %X protected by a passphrase: export it without one", name, e.PrimaryKey.Fingerprint)
				}
			}
			k.pgp = append(k.pgp, entities...)
		default:
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(v))
		h.Write(v)
	}
	if len(k.age) == 0 && len(k.pgp) == 0 {
		return nil, ErrNoKeys
	}
	k.digest = hex.EncodeToString(h.Sum(nil))
	return k, nil
}

// Digest identifies the keys (a SHA-256 of them): renders decrypted with other keys, or
// before a rotation, are not the same render.
func (k *Keys) Digest() string { return k.digest }

// ageParseReason drops what age quotes of the line it failed on: a private key.
func ageParseReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "AGE-SECRET-KEY"); i >= 0 {
		msg = msg[:i] + "<masked>"
	}
	return msg
}

// minValue is the shortest decrypted value masked in messages, as package redact does; only
// values of minChecked bytes or more are looked for outside Secrets: a shorter one (a user
// name "shop", a region) is as likely to be an object's name or any other field's, and refusing
// those would refuse ordinary repositories.
const (
	minValue   = 4
	minChecked = 8
)

// Decryptor decrypts the files of one render with one set of keys, and remembers what it
// decrypted (value → file) to keep it out of everything but Secrets.
type Decryptor struct {
	keys   *Keys
	values map[string]string
}

// NewDecryptor decrypts with keys; nil keys decrypt nothing and refuse encrypted files.
func NewDecryptor(keys *Keys) *Decryptor {
	return &Decryptor{keys: keys, values: map[string]string{}}
}

// FileError is a file that could not be decrypted.
type FileError struct {
	File   string
	Reason string
}

func (e *FileError) Error() string { return e.File + ": " + e.Reason }

// Files returns files with each SOPS-encrypted one replaced by its plaintext. Files that are not
// encrypted are returned as they are.
func (d *Decryptor) Files(files []source.File) ([]source.File, error) {
	var out []source.File
	for i, f := range files {
		if !bytes.Contains(f.Data, encMarker) {
			continue
		}
		plain, err := d.file(f.Path, f.Data)
		if err != nil {
			return nil, err
		}
		if plain == nil {
			continue
		}
		if out == nil {
			out = append([]source.File(nil), files...)
		}
		out[i].Data = plain
	}
	if out == nil {
		return files, nil
	}
	return out, nil
}

// encMarker is how every value SOPS encrypts starts.
var encMarker = []byte("ENC[AES256_GCM,data:")

// StoreFor picks the SOPS store for a file by its name, as the sops command does.
func StoreFor(name string) sops.Store {
	switch ext := strings.ToLower(path.Ext(name)); {
	case ext == ".yaml" || ext == ".yml":
		return sopsyaml.NewStore(&config.YAMLStoreConfig{})
	case ext == ".json":
		return sopsjson.NewStore(&config.JSONStoreConfig{})
	case ext == ".env" || strings.HasSuffix(name, ".env"):
		return dotenv.NewStore(&config.DotenvStoreConfig{})
	case ext == ".ini":
		return ini.NewStore(&config.INIStoreConfig{})
	default:
		return sopsjson.NewBinaryStore(&config.JSONBinaryStoreConfig{})
	}
}

// file decrypts one file; nil when it is no SOPS file after all (a file merely quoting the
// marker).
func (d *Decryptor) file(name string, data []byte) ([]byte, error) {
	store := StoreFor(name)
	tree, err := store.LoadEncryptedFile(data)
	if err != nil || len(tree.Metadata.KeyGroups) == 0 {
		return nil, nil
	}
	if d.keys == nil {
		return nil, &FileError{File: name, Reason: "is encrypted with SOPS: set spec.decryption (provider sops, secretRef naming a Secret with its age or PGP private key)"}
	}
	key, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyClient{d.keys}}, nil)
	if err != nil {
		return nil, &FileError{File: name, Reason: "none of the keys of spec.decryption's Secret decrypts it; the file is encrypted for " + recipients(tree.Metadata)}
	}
	rec := &recorder{Cipher: aes.NewCipher(), manifest: isManifest(name)}
	mac, err := tree.Decrypt(key, rec)
	if err != nil {
		return nil, &FileError{File: name, Reason: "could not be decrypted (a value is corrupt): " + withoutValues(err)}
	}
	stored, err := aes.NewCipher().Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil || stored != mac {
		return nil, &FileError{File: name, Reason: "failed SOPS's integrity check (its MAC does not match): it was changed after it was encrypted; encrypt it again with sops"}
	}
	plain, err := store.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, &FileError{File: name, Reason: "could not be written out after decryption: " + withoutValues(err)}
	}
	for _, v := range rec.values {
		d.remember(v, name)
	}
	return plain, nil
}

// withoutValues keeps SOPS's error from quoting a value: only its first clause is said.
func withoutValues(err error) string {
	msg := err.Error()
	if i := strings.IndexAny(msg, ":\n"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// recipients lists the public keys a file's data key is encrypted for.
func recipients(m sops.Metadata) string {
	var names []string
	for _, group := range m.KeyGroups {
		for _, k := range group {
			names = append(names, k.TypeToIdentifier()+" "+k.ToString())
		}
	}
	if len(names) == 0 {
		return "no key"
	}
	return strings.Join(names, ", ")
}

// isManifest: a YAML or JSON file, whose apiVersion, kind, metadata and type are an object's
// identity rather than secret data, even when SOPS encrypted them.
func isManifest(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	return ext == ".yaml" || ext == ".yml" || ext == ".json"
}

// identityPaths are the top-level fields of a manifest that name an object; other objects
// refer to them (a Deployment names its Secret), so they are not secret data.
var identityPaths = []string{"apiVersion:", "kind:", "metadata:", "type:"}

// recorder is SOPS's cipher, remembering the string values it decrypts.
type recorder struct {
	sops.Cipher
	manifest bool
	values   []string
}

func (r *recorder) Decrypt(ciphertext string, key []byte, additionalData string) (interface{}, error) {
	v, err := r.Cipher.Decrypt(ciphertext, key, additionalData)
	if err != nil {
		return v, err
	}
	if r.manifest {
		for _, p := range identityPaths {
			if strings.HasPrefix(additionalData, p) {
				return v, nil
			}
		}
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	}
	if s = strings.TrimSpace(s); len(s) >= minValue {
		r.values = append(r.values, s)
	}
	return v, nil
}

// Values are the values decrypted so far: a message must mask them.
func (d *Decryptor) Values() []string {
	out := make([]string, 0, len(d.values))
	for v := range d.values {
		out = append(out, v)
	}
	return out
}

// keyClient is a SOPS key service that decrypts data keys with the Secret's keys only.
type keyClient struct{ keys *Keys }

func (c keyClient) Encrypt(context.Context, *keyservice.EncryptRequest, ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("ferry only decrypts: encryption is not offered")
}

func (c keyClient) Decrypt(_ context.Context, req *keyservice.DecryptRequest, _ ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	var plain []byte
	var err error
	switch {
	case req.GetKey().GetAgeKey() != nil:
		plain, err = c.age(req.GetCiphertext())
	case req.GetKey().GetPgpKey() != nil:
		plain, err = c.pgp(req.GetCiphertext())
	default:
		return nil, errors.New("only age and PGP keys are supported")
	}
	if err != nil {
		return nil, err
	}
	return &keyservice.DecryptResponse{Plaintext: plain}, nil
}

func (c keyClient) age(ciphertext []byte) ([]byte, error) {
	if len(c.keys.age) == 0 {
		return nil, errors.New("no age key")
	}
	r, err := age.Decrypt(agearmor.NewReader(bytes.NewReader(ciphertext)), c.keys.age...)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, 1<<10))
}

func (c keyClient) pgp(ciphertext []byte) ([]byte, error) {
	if len(c.keys.pgp) == 0 {
		return nil, errors.New("no PGP key")
	}
	block, err := pgparmor.Decode(bytes.NewReader(ciphertext))
	if err != nil {
		return nil, err
	}
	md, err := openpgp.ReadMessage(block.Body, c.keys.pgp, nil, nil)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(md.UnverifiedBody, 1<<10))
}
