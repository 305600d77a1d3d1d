package decryption

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// What a render may do with a decrypted value: put it in the data or stringData of a core
// Secret, which /manifests, /diff, events and logs mask. Anywhere else (a ConfigMap, a label or
// annotation, a Secret's own metadata, a key of a Secret's data) it would be shown in clear, so
// the render is refused. A value is looked for as it is, in any letter case, and in the
// reversible encodings a template or a kustomize replacement can apply to it: base64 (standard
// and URL alphabets, padded or not, also within a longer encoded text), base32, hex and URL
// escaping; and in every string that itself decodes from base64, base32 or hex.
//
// What it cannot see: a value cut into pieces shorter than minChecked (two halves of it in two
// fields), or changed by anything that is not one of those encodings (reversed, a character
// substituted, one encoding on top of two others). Such a render is caught only by who may read
// it: reading a render that decrypts needs the right to read Secrets (the read subresources
// check it).

// remember records a decrypted value of file, and what it decodes to when it is base64: the data
// of a Secret is encrypted as its base64 text, and a template may use the text it stands for.
func (d *Decryptor) remember(v, file string) {
	if _, seen := d.values[v]; !seen {
		d.values[v] = file
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return
	}
	if s := strings.TrimSpace(string(raw)); len(s) >= minChecked && utf8.ValidString(s) {
		if _, seen := d.values[s]; !seen {
			d.values[s] = file
		}
	}
}

// form is one way a decrypted value may be written.
type form struct {
	text string
	// folded forms are compared with a lower-cased string: letter case is not part of them.
	folded bool
	// how says which encoding, for the message: "" for the value itself.
	how string
}

// needles are the decrypted values of minChecked bytes or more in every form they are looked
// for, by the first minChecked bytes of the form: a string is scanned once, whatever the number
// of values, looking each of its windows of minChecked bytes up.
type needles struct {
	// folded are compared with the lower-cased string, exact with the string itself.
	folded, exact map[string][]needle
}

// needle is one form of a decrypted value.
type needle struct {
	text, file, how string
}

func (n needles) empty() bool { return len(n.folded) == 0 && len(n.exact) == 0 }

// needles returns the decrypted values to look for.
func (d *Decryptor) needles() needles {
	n := needles{folded: map[string][]needle{}, exact: map[string][]needle{}}
	var values []string
	for v := range d.values {
		if len(v) >= minChecked {
			values = append(values, v)
		}
	}
	sort.Strings(values) // the same value is reported for the same render
	for _, v := range values {
		for _, f := range formsOf(v) {
			byPrefix := n.exact
			if f.folded {
				byPrefix = n.folded
			}
			key := f.text[:minChecked]
			byPrefix[key] = append(byPrefix[key], needle{text: f.text, file: d.values[v], how: f.how})
		}
	}
	return n
}

// formsOf lists the forms of a value: itself in any case, hex, URL-escaped, base32 and base64.
// The base64 and base32 forms are the parts of the encoding that do not depend on what comes
// before or after the value, for each alignment the value may have within a longer encoded text.
func formsOf(v string) []form {
	forms := []form{
		{text: strings.ToLower(v), folded: true},
		{text: hex.EncodeToString([]byte(v)), folded: true, how: "hex-encoded"},
	}
	for _, esc := range []string{url.QueryEscape(v), url.PathEscape(v)} {
		if esc != v {
			forms = append(forms, form{text: strings.ToLower(esc), folded: true, how: "URL-escaped"})
		}
	}
	for _, t := range aligned(v, 5, 8, base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString) {
		forms = append(forms, form{text: strings.ToLower(t), folded: true, how: "base32-encoded"})
	}
	for _, t := range aligned(v, 3, 4, base64.RawStdEncoding.EncodeToString) {
		forms = append(forms, form{text: t, how: "base64-encoded"})
		if u := strings.NewReplacer("+", "-", "/", "_").Replace(t); u != t {
			forms = append(forms, form{text: u, how: "base64-encoded"})
		}
	}
	return forms
}

// aligned encodes v after 0 to block-1 bytes, with an encoding that turns each block of bytes
// into chars characters, and keeps of each the whole blocks that hold v's bytes only. Within a
// longer encoded text, the value starts at one of those offsets modulo block.
func aligned(v string, block, chars int, encode func([]byte) string) []string {
	var out []string
	for k := 0; k < block; k++ {
		enc := encode(append(make([]byte, k), v...))
		start := 0
		if k > 0 {
			start = chars // the first block mixes the padding with v
		}
		end := (k + len(v)) / block * chars // a last partial block depends on what follows
		if end-start >= minChecked {
			out = append(out, enc[start:end])
		}
	}
	return out
}

// CheckConfined refuses a render that puts a decrypted value (of minChecked bytes or more)
// anywhere but the values of a core Secret's data or stringData, naming the file it was
// decrypted from, the object and the field, never the value.
func (d *Decryptor) CheckConfined(objs []*unstructured.Unstructured) error {
	needles := d.needles()
	if needles.empty() {
		return nil
	}
	for _, o := range objs {
		secret := o.GetKind() == "Secret" && o.GroupVersionKind().Group == ""
		for _, k := range sortedKeys(o.Object) {
			v := o.Object[k]
			if secret && (k == "data" || k == "stringData") {
				// The values are masked wherever Ferry shows them; their keys are not.
				m, _ := v.(map[string]interface{})
				v = keysOnly(m)
			}
			if h := findIn(v, needles); h != nil {
				h.up = append(h.up, step{key: k})
				return h.error(o)
			}
		}
	}
	return nil
}

// keysOnly is m with its values left out, to look at its keys alone.
func keysOnly(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k := range m {
		out[k] = nil
	}
	return out
}

// hit is where a decrypted value was found: the field's path is gathered from the field up, as
// findIn returns, so that looking costs no path where nothing is found.
type hit struct {
	file string
	how  string
	// up are the steps to the field, innermost first; aKey says the value is a key of its map.
	up   []step
	aKey bool
}

// step is a map key, or an index of a list when key is empty.
type step struct {
	key   string
	index int
}

func (h *hit) path() string {
	var p *field.Path
	for i := len(h.up) - 1; i >= 0; i-- {
		switch s := h.up[i]; {
		case p == nil:
			p = field.NewPath(s.key)
		case s.key == "":
			p = p.Index(s.index)
		case identifier.MatchString(s.key):
			p = p.Child(s.key)
		default:
			p = p.Key(s.key)
		}
	}
	if h.aKey {
		return p.String() + " (one of its keys)"
	}
	return p.String()
}

func (h *hit) error(o *unstructured.Unstructured) error {
	what := fmt.Sprintf("%s %q", o.GetKind(), o.GetName())
	if ns := o.GetNamespace(); ns != "" {
		what = fmt.Sprintf("%s %q in namespace %q", o.GetKind(), o.GetName(), ns)
	}
	how := ""
	if h.how != "" {
		how = " (" + h.how + ")"
	}
	return &FileError{File: h.file, Reason: fmt.Sprintf("a value decrypted from it is in %s, at %s%s: decrypted values may go only into the data and stringData of Secrets, which Ferry masks "+
		"(leave values that are not secret unencrypted, e.g. sops --encrypted-regex '^(data|stringData)$')", what, h.path(), how)}
}

// findIn looks for a decrypted value in v: in its strings and numbers, and in the keys of its
// maps. A key is looked at before the path is extended with it, so a path named in a message
// never holds a value.
func findIn(v interface{}, n needles) *hit {
	switch v := v.(type) {
	case map[string]interface{}:
		keys := sortedKeys(v)
		for _, k := range keys {
			if h := findInString(k, n); h != nil {
				h.aKey = true
				return h
			}
		}
		for _, k := range keys {
			if h := findIn(v[k], n); h != nil {
				h.up = append(h.up, step{key: k})
				return h
			}
		}
	case []interface{}:
		for i, e := range v {
			if h := findIn(e, n); h != nil {
				h.up = append(h.up, step{index: i})
				return h
			}
		}
	case string:
		return findInString(v, n)
	case int64:
		return findInString(strconv.FormatInt(v, 10), n)
	case float64:
		return findInString(strconv.FormatFloat(v, 'f', -1, 64), n)
	}
	return nil
}

// identifier is a key written as .key in a field path; others are written [key].
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// findInString looks for a decrypted value in s in any of its forms, and in what s decodes to
// when the whole of it is base64, base32 or hex.
func findInString(s string, needles needles) *hit {
	if len(s) < minChecked {
		return nil
	}
	if h := match(s, needles); h != nil {
		return h
	}
	for _, decoded := range decodings(s) {
		if h := match(decoded.text, needles); h != nil {
			h.how = joinHow(decoded.how, h.how)
			return h
		}
	}
	return nil
}

func match(s string, n needles) *hit {
	if h := scan(strings.ToLower(s), n.folded); h != nil {
		return h
	}
	return scan(s, n.exact)
}

// scan finds the first needle of byPrefix in s.
func scan(s string, byPrefix map[string][]needle) *hit {
	for i := 0; i+minChecked <= len(s); i++ {
		for _, n := range byPrefix[s[i:i+minChecked]] {
			if strings.HasPrefix(s[i:], n.text) {
				return &hit{file: n.file, how: n.how}
			}
		}
	}
	return nil
}

func joinHow(outer, inner string) string {
	if inner == "" {
		return outer
	}
	return inner + ", then " + outer
}

// decoded is what a string decodes to, and how it was encoded.
type decoded struct{ text, how string }

// decodings are what s decodes to, whole, as base64, base32 or hex, line breaks and spaces aside.
func decodings(s string) []decoded {
	if strings.ContainsAny(s, " \t\r\n") {
		s = strings.Join(strings.Fields(s), "")
	}
	if len(s) < minChecked {
		return nil
	}
	var out []decoded
	unpadded := strings.TrimRight(s, "=")
	if len(s)%2 == 0 && all(s, isHex) {
		if b, err := hex.DecodeString(s); err == nil {
			out = append(out, decoded{string(b), "hex-encoded"})
		}
	}
	if all(unpadded, isBase32) {
		if b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(unpadded)); err == nil {
			out = append(out, decoded{string(b), "base32-encoded"})
		}
	}
	if all(unpadded, isBase64) {
		if b, err := base64.RawStdEncoding.DecodeString(strings.NewReplacer("-", "+", "_", "/").Replace(unpadded)); err == nil {
			out = append(out, decoded{string(b), "base64-encoded"})
		}
	}
	return out
}

func all(s string, in func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !in(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isBase32(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '2' <= c && c <= '7'
}

func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
