package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// Field selectors served for Applications, besides metadata.name and metadata.namespace.
const (
	FieldRepoURL    = "spec.source.repoURL"
	FieldSyncStatus = "status.sync.status"
)

func addFieldLabelConversionFuncs(scheme *runtime.Scheme) error {
	return scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind("Application"),
		func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", "metadata.namespace", FieldRepoURL, FieldSyncStatus:
				return label, value, nil
			default:
				return "", "", fmt.Errorf("field label not supported for Application: %s", label)
			}
		})
}
