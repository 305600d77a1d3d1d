package apply

import (
	"crypto/sha256"
	"encoding/json"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// appliedMemo remembers, per object, what Ferry last applied of it, as which identity, and the
// resourceVersion the object had right after. While the watch cache still shows that
// resourceVersion, nobody has written the object since, so applying the same content as the
// same identity again cannot change it: the object is Unchanged without a dry run. That is the
// common case of a commit that touches one file of a path, and of every interval check.
//
// Any doubt falls back to the dry run: another identity, other content, a cache that lags or
// lost the object, a write by anyone else (a new resourceVersion).
type appliedMemo struct {
	mu      sync.Mutex
	entries map[string]appliedEntry
}

type appliedEntry struct {
	identity        string
	digest          [sha256.Size]byte
	resourceVersion string
}

// digestOf hashes an object's content as it is sent (encoding/json orders map keys).
func digestOf(o *unstructured.Unstructured) ([sha256.Size]byte, bool) {
	data, err := json.Marshal(o.Object)
	if err != nil {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(data), true
}

// unchanged reports whether o, about to be applied as identity, is what was last applied and
// the live copy (from the watch cache) has not been written since.
func (m *appliedMemo) unchanged(identity string, o *unstructured.Unstructured, digest [sha256.Size]byte, live *unstructured.Unstructured) bool {
	if live == nil || live.GetResourceVersion() == "" || live.GetDeletionTimestamp() != nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[RefOf(o).Key()]
	return ok && e.identity == identity && e.digest == digest && e.resourceVersion == live.GetResourceVersion()
}

// record notes that content with digest was applied to ref as identity and left the object at
// resourceVersion.
func (m *appliedMemo) record(ref ObjectRef, identity string, digest [sha256.Size]byte, resourceVersion string) {
	if resourceVersion == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[string]appliedEntry{}
	}
	m.entries[ref.Key()] = appliedEntry{identity: identity, digest: digest, resourceVersion: resourceVersion}
}

func (m *appliedMemo) forget(ref ObjectRef) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, ref.Key())
}
