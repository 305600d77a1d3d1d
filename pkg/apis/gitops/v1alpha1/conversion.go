package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// Field selectors served for Applications, besides metadata.name and metadata.namespace.
const (
	FieldRepoURL    = "spec.source.repoURL"
	FieldSyncStatus = "status.sync.status"
	// FieldCluster selects Applications by spec.destination.cluster ("" for the cluster Ferry
	// runs in).
	FieldCluster = "spec.destination.cluster"
)

func addFieldLabelConversionFuncs(scheme *runtime.Scheme) error {
	return scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind("Application"),
		func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", "metadata.namespace", FieldRepoURL, FieldSyncStatus, FieldCluster:
				return label, value, nil
			default:
				return "", "", fmt.Errorf("field label not supported for Application: %s", label)
			}
		})
}
