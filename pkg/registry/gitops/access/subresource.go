package access

import (
	"context"
	"fmt"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// RefusedSubresource is Refused for a subresource: whether u may verb resource/subresource
// (of group) in namespace, of any name.
func RefusedSubresource(ctx context.Context, authz authorizer.Authorizer, u user.Info, group, verb, resource, subresource, namespace string) (refused bool, why string, err error) {
	return ask(ctx, authz, authorizer.AttributesRecord{
		User: u, Verb: verb, APIGroup: group, Resource: resource, Subresource: subresource, Namespace: namespace, ResourceRequest: true,
	}, fmt.Sprintf("%s/%s in %s", resource, subresource, namespace))
}
