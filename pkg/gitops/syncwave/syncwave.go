// Package syncwave reads the sync wave an object's annotations name. Waves order a sync: the
// objects of wave n are applied only once every object of the waves before it is Healthy, and
// pruned in the reverse order. Argo CD's annotation is honoured too, so that repositories written
// for it deploy unchanged; Ferry's wins when an object carries both.
package syncwave

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The annotations that name an object's sync wave.
const (
	Annotation       = "gitops.ferry.dev/sync-wave"
	ArgoCDAnnotation = "argocd.argoproj.io/sync-wave"
)

// Of is the sync wave obj's annotations name, 0 when they name none.
func Of(obj *unstructured.Unstructured) (int32, error) {
	annotations := obj.GetAnnotations()
	for _, key := range []string{Annotation, ArgoCDAnnotation} {
		v, ok := annotations[key]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("annotation %s: %q is not a whole number (a sync wave such as -1, 0 or 5)", key, v)
		}
		return int32(n), nil
	}
	return 0, nil
}
