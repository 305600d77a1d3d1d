// Package v1alpha1 is version v1alpha1 of Ferry's gitops.ferry.dev API.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/ferry-gitops/ferry/pkg/apis/gitops
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=dev.ferry.gitops.v1alpha1
// +k8s:protobuf-gen=package
// +groupName=gitops.ferry.dev
package v1alpha1
