// Package install registers every version of the gitops.ferry.dev API in a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Install registers the API group and its versions, v1alpha1 preferred.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(gitops.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(v1alpha1.SchemeGroupVersion))
}
