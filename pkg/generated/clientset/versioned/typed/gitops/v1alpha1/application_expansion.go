/*
Copyright The Ferry Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// This file is written by hand: client-gen leaves it alone and, because it exists, no longer
// declares an empty ApplicationExpansion in generated_expansion.go.

package v1alpha1

import (
	"context"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/scheme"
)

// ApplicationExpansion adds to ApplicationInterface the read subresources that take query
// options, which client-gen's +genclient:method cannot express (its GetDiff and GetManifests take
// metav1.GetOptions and so cannot ask for a revision).
type ApplicationExpansion interface {
	// Diff returns what a sync of the Application called name would change: GET
	// applications/{name}/diff?revision=opts.Revision. An empty Revision compares the
	// Application's own spec.source.revision.
	Diff(ctx context.Context, name string, opts gitopsv1alpha1.ApplicationDiffOptions) (*gitopsv1alpha1.ApplicationDiff, error)
	// Manifests returns the objects the Application called name renders to: GET
	// applications/{name}/manifests?revision=opts.Revision. An empty Revision renders the
	// Application's own spec.source.revision. Secret values come back masked.
	Manifests(ctx context.Context, name string, opts gitopsv1alpha1.ApplicationManifestsOptions) (*gitopsv1alpha1.ApplicationManifests, error)
}

// Diff returns what a sync of the Application called name to opts.Revision would change.
func (c *applications) Diff(ctx context.Context, name string, opts gitopsv1alpha1.ApplicationDiffOptions) (*gitopsv1alpha1.ApplicationDiff, error) {
	result := &gitopsv1alpha1.ApplicationDiff{}
	err := c.GetClient().Get().
		UseProtobufAsDefault().
		Namespace(c.GetNamespace()).
		Resource("applications").
		Name(name).
		SubResource("diff").
		VersionedParams(&opts, scheme.ParameterCodec).
		Do(ctx).
		Into(result)
	return result, err
}

// Manifests returns the objects the Application called name renders to at opts.Revision.
func (c *applications) Manifests(ctx context.Context, name string, opts gitopsv1alpha1.ApplicationManifestsOptions) (*gitopsv1alpha1.ApplicationManifests, error) {
	result := &gitopsv1alpha1.ApplicationManifests{}
	err := c.GetClient().Get().
		UseProtobufAsDefault().
		Namespace(c.GetNamespace()).
		Resource("applications").
		Name(name).
		SubResource("manifests").
		VersionedParams(&opts, scheme.ParameterCodec).
		Do(ctx).
		Into(result)
	return result, err
}
