package apiserver

import "github.com/ferry-gitops/ferry/pkg/testing/localstack"

// LocalStack is the control plane this package's TestMain started, for the external tests; nil
// with -short.
func LocalStack() *localstack.Stack { return stack }
