#!/usr/bin/env bash
# Regenerates every generated file of Ferry: deepcopy, defaulters, conversions, OpenAPI (with its
# API-rule violation report), and the typed clientset, apply configurations, listers and
# informers under pkg/generated. `make verify` runs this into a scratch copy and fails on a diff.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODULE=github.com/ferry-gitops/ferry

CODEGEN_PKG=$(go list -m -f '{{.Dir}}' k8s.io/code-generator)
# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"

echo ">>> generating deepcopy, defaulters and conversions"
kube::codegen::gen_helpers --boilerplate "$BOILERPLATE" "${ROOT}/pkg/apis"

echo ">>> generating OpenAPI definitions"
kube::codegen::gen_openapi \
	--output-dir "${ROOT}/pkg/generated/openapi" \
	--output-pkg "${MODULE}/pkg/generated/openapi" \
	--report-filename "${ROOT}/api/api-rules/violation_exceptions.list" \
	--output-model-name-file zz_generated.model_name.go \
	${UPDATE_API_KNOWN_VIOLATIONS:+--update-report} \
	--boilerplate "$BOILERPLATE" \
	"${ROOT}/pkg/apis"

echo ">>> generating clientset, apply configurations, listers and informers"
kube::codegen::gen_client \
	--with-watch \
	--with-applyconfig \
	--output-dir "${ROOT}/pkg/generated" \
	--output-pkg "${MODULE}/pkg/generated" \
	--boilerplate "$BOILERPLATE" \
	"${ROOT}/pkg/apis"
