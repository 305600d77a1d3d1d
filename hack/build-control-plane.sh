#!/usr/bin/env bash
# Builds the local control plane Ferry's tests and demo run on: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and kwok (the fake kubelet of the stack's Node),
# from the Go module proxy, into a cache outside the clone
# ($FERRY_CACHE, default $HOME/.cache/ferry/k8s-<version>/bin) so every clone, CI run and session
# reuses them. Prints the bin directory on stdout; progress goes to stderr.
#
# kube-apiserver cannot be `go install`ed: k8s.io/kubernetes requires its 31 staging modules at
# v0.0.0 and replaces them with ./staging paths its module zip lacks. A scratch module that requires
# k8s.io/kubernetes and replaces each staging module by its release tag builds it. etcd's server
# module has replace directives too, so it gets a scratch module of its own.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"
CACHE="${FERRY_CACHE:-$HOME/.cache/ferry/k8s-${KUBE_VERSION}-etcd-${ETCD_VERSION}}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

log() { printf '>>> %s\n' "$*" >&2; }

# Run "$@" and print a dot every 15 s so a long build shows it is alive.
with_progress() {
	local what=$1; shift
	local start=$SECONDS
	"$@" &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 15 &
		wait $! || true
		kill -0 "$pid" 2>/dev/null && printf '    ... %s, %ds\n' "$what" $((SECONDS - start)) >&2
	done
	if ! wait "$pid"; then
		log "FAILED: $what. Check that the Go module proxy is reachable (go env GOPROXY) and re-run; partial results are kept in $CACHE."
		exit 1
	fi
	log "$what: done in $((SECONDS - start))s"
}

build_etcd() {
	[[ -x "$BIN/etcd" ]] && return 0
	log "building etcd ${ETCD_VERSION} (first run only, ~2 min)"
	local mod="$CACHE/src/etcd"
	mkdir -p "$mod"
	(
		cd "$mod"
		[[ -f go.mod ]] || go mod init ferry.local/etcd-build >/dev/null 2>&1
		cat >tools.go <<-'EOF'
			//go:build tools

			package tools

			import (
				_ "go.etcd.io/etcd/etcdctl/v3"
				_ "go.etcd.io/etcd/server/v3"
			)
		EOF
		for m in server etcdctl api client/pkg client/v3 pkg; do
			case $m in
			client/v3) go get "go.etcd.io/etcd/client/v3@${ETCD_VERSION}" >/dev/null 2>&1 ;;
			*) go get "go.etcd.io/etcd/${m}/v3@${ETCD_VERSION}" >/dev/null 2>&1 ;;
			esac
		done
		go mod tidy >/dev/null 2>&1
		go build -trimpath -ldflags '-s -w' -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
		mv "$BIN/etcd.tmp" "$BIN/etcd"
	)
}

# The commands built from k8s.io/kubernetes; adding one re-resolves the scratch module.
KUBE_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

kube_module() {
	local mod="$CACHE/src/kubernetes"
	mkdir -p "$mod"
	local c
	for c in "${KUBE_COMMANDS[@]}"; do
		grep -q "cmd/$c\"" "$mod/tools.go" 2>/dev/null || rm -f "$mod/go.sum"
	done
	if [[ ! -f "$mod/go.sum" ]]; then
		log "resolving k8s.io/kubernetes ${KUBE_VERSION} and its ${STAGING_VERSION} staging modules"
		local dir
		dir=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		[[ -n "$dir" ]] || { log "cannot download k8s.io/kubernetes@${KUBE_VERSION}"; exit 1; }
		local gover
		gover=$(awk '$1=="go"{print $2; exit}' "$dir/go.mod")
		{
			echo "module ferry.local/kube-build"
			echo
			echo "go ${gover}"
			echo
			echo "require k8s.io/kubernetes ${KUBE_VERSION}"
			echo
			echo "replace ("
			awk -v v="$STAGING_VERSION" '$1 ~ /^k8s\.io\// && $2=="v0.0.0" {print "\t"$1" => "$1" "v}' "$dir/go.mod" | sort -u
			echo ")"
		} >"$mod/go.mod"
		{
			printf '//go:build tools\n\npackage tools\n\nimport (\n'
			for c in "${KUBE_COMMANDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
			printf ')\n'
		} >"$mod/tools.go"
		(cd "$mod" && go mod tidy >&2)
	fi
	echo "$mod"
}

build_kube() {
	local name=$1 minutes=$2
	[[ -x "$BIN/$name" ]] && return 0
	local mod
	mod=$(kube_module)
	log "building ${name} ${KUBE_VERSION} (first run only, ~${minutes} min on 2 cores)"
	local date
	date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	local ldflags="-s -w"
	local pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1"
		ldflags+=" -X ${pkg}.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)"
		ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${date}"
	done
	(cd "$mod" && with_progress "go build ${name}" go build -trimpath -ldflags "$ldflags" -o "$BIN/$name.tmp" "k8s.io/kubernetes/cmd/$name")
	mv "$BIN/$name.tmp" "$BIN/$name"
}

# kwok has no replace directives: go install builds it. Its version is kept beside it, so that a
# new KWOK_VERSION rebuilds it.
build_kwok() {
	[[ -x "$BIN/kwok" && "$(cat "$BIN/kwok.version" 2>/dev/null)" == "$KWOK_VERSION" ]] && return 0
	log "building kwok ${KWOK_VERSION} (first run only, ~3 min on 2 cores)"
	local gobin="$CACHE/src/kwok-bin"
	mkdir -p "$gobin"
	with_progress "go install kwok" env GOBIN="$gobin" go install -trimpath -ldflags '-s -w' "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
	mv "$gobin/kwok" "$BIN/kwok"
	echo "$KWOK_VERSION" >"$BIN/kwok.version"
}

[[ -x "$BIN/etcd" ]] || with_progress "etcd ${ETCD_VERSION}" build_etcd
build_kube kube-apiserver 9
build_kube kube-controller-manager 2
build_kube kube-scheduler 2
build_kube kubectl 1
build_kwok
echo "$BIN"
