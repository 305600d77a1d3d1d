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

// This file is written by hand, beside the fake client-gen generates.

package fake

import (
	"context"
	"fmt"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	testing "k8s.io/client-go/testing"
)

// Diff records a get of the diff subresource; a reactor on verb "get", resource "applications"
// and subresource "diff" answers it. The action does not carry opts.
func (c *fakeApplications) Diff(ctx context.Context, name string, opts gitopsv1alpha1.ApplicationDiffOptions) (*gitopsv1alpha1.ApplicationDiff, error) {
	emptyResult := &gitopsv1alpha1.ApplicationDiff{}
	obj, err := c.Fake.Invokes(testing.NewGetSubresourceAction(c.Resource(), c.Namespace(), "diff", name), emptyResult)
	if obj == nil {
		return emptyResult, err
	}
	d, ok := obj.(*gitopsv1alpha1.ApplicationDiff)
	if !ok {
		return emptyResult, fmt.Errorf("fake Applications.Diff: a reactor must answer get applications/diff with *ApplicationDiff, got %T", obj)
	}
	return d, err
}

// Manifests records a get of the manifests subresource; a reactor on verb "get", resource
// "applications" and subresource "manifests" answers it. The action does not carry opts.
func (c *fakeApplications) Manifests(ctx context.Context, name string, opts gitopsv1alpha1.ApplicationManifestsOptions) (*gitopsv1alpha1.ApplicationManifests, error) {
	emptyResult := &gitopsv1alpha1.ApplicationManifests{}
	obj, err := c.Fake.Invokes(testing.NewGetSubresourceAction(c.Resource(), c.Namespace(), "manifests", name), emptyResult)
	if obj == nil {
		return emptyResult, err
	}
	m, ok := obj.(*gitopsv1alpha1.ApplicationManifests)
	if !ok {
		return emptyResult, fmt.Errorf("fake Applications.Manifests: a reactor must answer get applications/manifests with *ApplicationManifests, got %T", obj)
	}
	return m, err
}
