//go:build tools

// Package hack pins the code generators in go.mod, so hack/update-codegen.sh runs the versions
// the module requires.
package hack

import (
	_ "k8s.io/code-generator"
	_ "k8s.io/kube-openapi/cmd/openapi-gen"
)
