#!/usr/bin/env bash
# Regenerates every generated file of Ferry: protobuf (generated.proto, generated.pb.go and the
# protobuf struct tags of types.go), deepcopy, defaulters, conversions, OpenAPI (with its API-rule
# violation report), and the typed clientset, apply configurations, listers and informers under
# pkg/generated. `make verify` runs this into a scratch copy and fails on a diff.
#
# Needs protoc (Debian's protobuf-compiler); when it is missing and we are root with apt-get, the
# script installs it. The protobuf tools are built into a temporary GOBIN, never into GOPATH/bin.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MODULE=github.com/ferry-gitops/ferry

CODEGEN_PKG=$(go list -m -f '{{.Dir}}' k8s.io/code-generator)
# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ensure_protoc installs protoc when it is missing and checks its version. go-to-protobuf writes
# proto2 IDL and runs protoc with the gogo plugin, which any protoc from 3.0 on handles; protoc
# 3.x prints "libprotoc 3.21.12" and, from protobuf 22 on, "libprotoc 23.4".
ensure_protoc() {
	if ! command -v protoc >/dev/null 2>&1; then
		if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
			echo ">>> protoc is missing: running apt-get update && apt-get install -y protobuf-compiler"
			apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler
		else
			echo "protoc is missing: install protobuf-compiler (apt-get install protobuf-compiler)" >&2
			return 1
		fi
	fi
	local version major
	version=$(protoc --version)
	major=$(sed -nE 's/^libprotoc ([0-9]+)\..*/\1/p' <<<"$version")
	if [[ -z "$major" || "$major" -lt 3 ]]; then
		echo "protoc 3.0 or newer is needed, found: ${version}" >&2
		return 1
	fi
	echo "    using ${version}"
}

# gen_protobuf runs go-to-protobuf on every package tagged +k8s:protobuf-gen=package (in its
# doc.go). go-to-protobuf thinks in GOPATH terms: it writes generated.proto next to the Go files,
# finds it again as <output-dir>/<import path>/generated.proto, hands that to protoc with
# --proto-import search paths in which the imported .proto files must sit at their import paths
# (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto, github.com/gogo/protobuf/gogoproto/
# gogo.proto), and rewrites <output-dir>/<import path>/*.go. A temporary GOPATH-like tree of
# symlinks gives it that: our module at its module path (whatever directory this runs in, e.g.
# verify-codegen.sh's scratch copy) and apimachinery and gogo/protobuf from the module cache, at
# the versions go.mod and code-generator's go.mod require.
gen_protobuf() {
	local dirs=() pkgs=() dir
	while read -r dir; do
		dirs+=("$dir")
		pkgs+=("$(cd "$dir" && GO111MODULE=on go list -find .)")
	done < <(grep -rl --include='*.go' -e '^// *+k8s:protobuf-gen=package' "${ROOT}/pkg/apis" |
		xargs -r -n1 dirname | LC_ALL=C sort -u)
	if [[ ${#pkgs[@]} -eq 0 ]]; then
		return 0
	fi

	ensure_protoc

	# go-to-protobuf, its protoc plugin and the goimports it runs on the plugin's output, built
	# from the code-generator module go.mod requires, like kube_codegen.sh builds its generators.
	local bin="${TMP}/bin"
	(
		cd "$CODEGEN_PKG"
		GOBIN="$bin" GO111MODULE=on go install \
			k8s.io/code-generator/cmd/go-to-protobuf \
			k8s.io/code-generator/cmd/go-to-protobuf/protoc-gen-gogo
		GOBIN="$bin" GO111MODULE=on go install \
			"golang.org/x/tools/cmd/goimports@$(GO111MODULE=on go list -m -f '{{.Version}}' golang.org/x/tools)"
	)
	local apimachinery gogo src="${TMP}/src"
	apimachinery=$(go list -m -f '{{.Dir}}' k8s.io/apimachinery)
	gogo=$(cd "$CODEGEN_PKG" && GO111MODULE=on go list -m -f '{{.Dir}}' github.com/gogo/protobuf)
	mkdir -p "${src}/$(dirname "$MODULE")" "${src}/k8s.io" "${src}/github.com/gogo"
	ln -s "$ROOT" "${src}/${MODULE}"
	ln -s "$apimachinery" "${src}/k8s.io/apimachinery"
	ln -s "$gogo" "${src}/github.com/gogo/protobuf"

	# Stale output may not compile against changed types; go-to-protobuf loads the package first.
	for dir in "${dirs[@]}"; do
		rm -f "${dir}/generated.proto" "${dir}/generated.pb.go"
	done

	# The apimachinery packages our types use, prefixed with "-": their messages are referenced
	# (imported from their generated.proto), never generated. TypeMeta is not serialised: the
	# protobuf envelope (runtime.Unknown) carries apiVersion and kind.
	local apimachinery_pkgs=(
		-k8s.io/apimachinery/pkg/util/intstr
		-k8s.io/apimachinery/pkg/api/resource
		-k8s.io/apimachinery/pkg/runtime/schema
		-k8s.io/apimachinery/pkg/runtime
		-k8s.io/apimachinery/pkg/apis/meta/v1
	)
	PATH="${bin}:${PATH}" "${bin}/go-to-protobuf" \
		--go-header-file "$BOILERPLATE" \
		--apimachinery-packages "$(IFS=,; echo "${apimachinery_pkgs[*]}")" \
		--drop-embedded-fields k8s.io/apimachinery/pkg/apis/meta/v1.TypeMeta \
		--packages "$(IFS=,; echo "${pkgs[*]}")" \
		--output-dir "$src" \
		--proto-import "$src" \
		--proto-import "${gogo}/protobuf"
}

echo ">>> generating protobuf"
gen_protobuf

echo ">>> generating deepcopy, defaulters and conversions"
kube::codegen::gen_helpers --boilerplate "$BOILERPLATE" "${ROOT}/pkg/apis"

echo ">>> generating OpenAPI definitions"
kube::codegen::gen_openapi \
	--output-dir "${ROOT}/pkg/generated/openapi" \
	--output-pkg "${MODULE}/pkg/generated/openapi" \
	--report-filename "${ROOT}/api/api-rules/violation_exceptions.list" \
	--output-model-name-file zz_generated.model_name.go \
	--extra-pkgs k8s.io/apimachinery/pkg/util/intstr \
	${UPDATE_API_KNOWN_VIOLATIONS:+--update-report} \
	--boilerplate "$BOILERPLATE" \
	"${ROOT}/pkg/apis"

echo ">>> generating clientset, apply configurations, listers and informers"
# --prefers-protobuf: every request of the typed clients (and so of the informers built on
# them) sends protobuf and asks for "application/vnd.kubernetes.protobuf,application/json",
# unless the rest.Config sets ContentType or AcceptContentTypes itself. Patch and Apply bodies
# stay JSON or YAML patches; only their responses come back as protobuf.
kube::codegen::gen_client \
	--with-watch \
	--prefers-protobuf \
	--with-applyconfig \
	--output-dir "${ROOT}/pkg/generated" \
	--output-pkg "${MODULE}/pkg/generated" \
	--boilerplate "$BOILERPLATE" \
	"${ROOT}/pkg/apis"

echo ">>> generating the Helm chart's templates (charts/ferry) from artifacts/"
(cd "${ROOT}" && go run ./hack/chart --templates charts/ferry/templates)
