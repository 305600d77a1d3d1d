#!/usr/bin/env bash
# Builds the GitOps tools Ferry is measured against (issue 31: Flux and Argo CD side by side with
# Ferry on the same local control plane) from their Go modules at pinned versions, into a cache
# outside the clone ($FERRY_PEERS_CACHE, default $HOME/.cache/ferry/peers/<name>-<version>/), the
# way hack/build-control-plane.sh caches kube-apiserver. Only the Go module proxy is reachable
# here: no release downloads, no container images. Prints one line per built peer on stdout,
# "<name> <version> <binary path>"; progress goes to stderr.
#
#   hack/build-peers.sh                      # everything below, and Redis
#   hack/build-peers.sh source-controller    # only the ones named (redis for Redis)
#
# Neither Flux's controllers nor Argo CD can be `go install`ed: their go.mod files have replace
# directives (Flux's api/ submodule as ./api, digest and kustomize pins; Argo CD's k8s.io pins and
# ./gitops-engine). So each gets a small wrapper module that requires the peer's module at the
# pinned version and carries the peer's own replace lines (helm and kustomize, which have none, go
# the same way). A replace to a
# directory inside the peer's repository (./api, ./gitops-engine) names a nested module the module
# zip does not contain; it becomes a replace to that module at the version the peer requires, which
# its release tags publish alongside.
#
# Ferry itself builds with Go 1.26.8. A peer whose go.mod asks for a newer Go is built with
# $PEER_NEW_GOTOOLCHAIN (go1.27.3, the newer Go the module proxy serves) in its wrapper only.
# Beside each binary: wrapper.go.mod (what was built), toolchain (which Go) and build-seconds.
set -euo pipefail

# name|module|version|main package|binary|pins|stamp
#
# "stamp" is the version-stamping -X flags of the peer's own release build (its Makefile), with
# @V@ for the version without its "v"; without them Argo CD calls itself 99.99.99 and Helm v4.3.
#
# The module proxy serves only some versions of some modules. Flux v2.10 (source-controller and
# kustomize-controller v1.10.x, helm-controller v1.7.x) needs versions it refuses
# (fluxcd/pkg/spiffe v0.2.0, masktoken v0.10.0, apis/crypto v0.5.0, artifact v0.27.1, ...), so the
# peers are Flux v2.9's controllers, the newest release whose dependencies it serves, save one:
# source-controller v1.9.6 requires fluxcd/pkg/artifact v0.18.3, which is refused, and is built
# against v0.18.0, the newest v0.18.x served. "pins" lists such "module=version" replacements, each
# written down in bench/peers/BUILD.md. Their go.mod files ask for Go 1.26.0.
PEERS=(
	"source-controller|github.com/fluxcd/source-controller|${SOURCE_CONTROLLER_VERSION:-v1.9.6}|github.com/fluxcd/source-controller|source-controller|${SOURCE_CONTROLLER_PINS-github.com/fluxcd/pkg/artifact=v0.18.0}"
	"kustomize-controller|github.com/fluxcd/kustomize-controller|${KUSTOMIZE_CONTROLLER_VERSION:-v1.9.6}|github.com/fluxcd/kustomize-controller|kustomize-controller|"
	# The proxy refuses helm-controller's version list and v1.6.5 and later; v1.6.4 is Flux v2.9's.
	"helm-controller|github.com/fluxcd/helm-controller|${HELM_CONTROLLER_VERSION:-v1.6.4}|github.com/fluxcd/helm-controller|helm-controller|"
	# One binary for every Argo CD component: it picks the component from its argv[0] (or
	# $ARGOCD_BINARY_NAME): argocd-application-controller, argocd-repo-server. The links are made
	# beside it. Its go.mod asks for Go 1.27.0.
	"argocd|github.com/argoproj/argo-cd/v3|${ARGOCD_VERSION:-v3.6.2}|github.com/argoproj/argo-cd/v3/cmd|argocd||-X github.com/argoproj/argo-cd/v3/common.version=@V@ -X github.com/argoproj/argo-cd/v3/common.gitTag=v@V@ -X github.com/argoproj/argo-cd/v3/common.gitTreeState=clean"
	# argocd-repo-server renders Helm charts and kustomize overlays by running these two binaries,
	# which Argo CD's image ships at the versions of its hack/tool-versions.sh (v3.6.2: Helm 4.3.2,
	# kustomize 5.8.3). Neither go.mod has replace lines; kustomize's asks for Go 1.27.0.
	"helm|helm.sh/helm/v4|${ARGOCD_HELM_VERSION:-v4.3.2}|helm.sh/helm/v4/cmd/helm|helm||-X helm.sh/helm/v4/internal/version.version=v@V@ -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
	"kustomize|sigs.k8s.io/kustomize/kustomize/v5|${ARGOCD_KUSTOMIZE_VERSION:-v5.8.3}|sigs.k8s.io/kustomize/kustomize/v5|kustomize|"
)
ARGOCD_LINKS=(argocd-application-controller argocd-repo-server argocd-server argocd-applicationset-controller)

CACHE="${FERRY_PEERS_CACHE:-$HOME/.cache/ferry/peers}"
PEER_NEW_GOTOOLCHAIN="${PEER_NEW_GOTOOLCHAIN:-go1.27.3}"
LOCAL_GO="$(GOTOOLCHAIN=local go env GOVERSION)"
LOCAL_GO="${LOCAL_GO#go}"

# Only the module proxy is reachable: a refused module version must say so, not fall through to a
# git clone that cannot resolve its host.
GOPROXY="$(GOTOOLCHAIN=local go env GOPROXY)"
export GOPROXY="${GOPROXY%,direct}"

log() { printf '>>> %s\n' "$*" >&2; }

# version_lt A B: true when Go version A is older than B (1.26.8 < 1.27.0).
version_lt() { [[ "$1" != "$2" && "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$1" ]]; }

# Run "$@" and print a line every 30 s so a long build shows it is alive.
with_progress() {
	local what=$1; shift
	local start=$SECONDS
	"$@" &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 30 &
		wait $! || true
		kill -0 "$pid" 2>/dev/null && printf '    ... %s, %ds\n' "$what" $((SECONDS - start)) >&2
	done
	wait "$pid"
}

# peer_gomod MODULE VERSION: path of the peer's go.mod in the module cache. `go mod download`
# fetches the .mod file even when the running Go is too old for the module, and names it in GoMod.
peer_gomod() {
	local json
	json=$(go mod download -json "$1@$2" 2>/dev/null || true)
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"
}

# wrapper_replaces GOMOD: the peer's replace directives, one "old => new" a line, with directory
# replacements rewritten to the module version the peer requires.
wrapper_replaces() {
	local gomod=$1
	awk '
		{ sub(/\/\/.*/, "") }
		/^require[[:space:]]*\(/ { inreq = 1; next }
		inreq && /^\)/ { inreq = 0; next }
		inreq && NF >= 2 { req[$1] = $2; next }
		/^require[[:space:]]/ && NF >= 3 { req[$2] = $3; next }
		/^replace[[:space:]]*\(/ { inrep = 1; next }
		inrep && /^\)/ { inrep = 0; next }
		inrep && /=>/ { reps[++n] = $0; next }
		/^replace[[:space:]]/ && /=>/ { sub(/^replace[[:space:]]+/, ""); reps[++n] = $0; next }
		END {
			for (i = 1; i <= n; i++) {
				split(reps[i], side, /=>/)
				split(side[1], lhs, " "); split(side[2], rhs, " ")
				if (rhs[1] ~ /^\.\.?\//) {
					if (!(lhs[1] in req)) { print "ERROR " lhs[1] " => " rhs[1] " (no required version)"; continue }
					print lhs[1] " => " lhs[1] " " req[lhs[1]]
				} else {
					line = lhs[1]; if (lhs[2] != "") line = line " " lhs[2]
					line = line " => " rhs[1]; if (rhs[2] != "") line = line " " rhs[2]
					print line
				}
			}
		}' "$gomod"
}

build_peer() {
	local name=$1 module=$2 version=$3 pkg=$4 binary=$5 pins=$6 stamp=$7
	local dir="$CACHE/$name-$version"
	if [[ -x "$dir/$binary" ]]; then
		echo "$name $version $dir/$binary"
		return 0
	fi
	log "building $name $version from $module (first run only)"
	local gomod
	gomod=$(peer_gomod "$module" "$version")
	if [[ -z "$gomod" || ! -f "$gomod" ]]; then
		log "cannot download $module@$version from the Go module proxy:"
		go mod download "$module@$version" 2>&1 | sed 's/^/    /' >&2 || true
		return 1
	fi
	local gover
	gover=$(awk '$1=="go"{print $2; exit}' "$gomod")
	local toolchain=local
	if version_lt "$LOCAL_GO" "$gover"; then
		toolchain=$PEER_NEW_GOTOOLCHAIN
		log "$module@$version declares go $gover (newer than Go $LOCAL_GO): building it with GOTOOLCHAIN=$toolchain"
	fi
	local replaces
	replaces=$(wrapper_replaces "$gomod")
	if grep -q '^ERROR' <<<"$replaces"; then
		log "cannot carry $module's replace lines: $(grep '^ERROR' <<<"$replaces")"
		return 1
	fi
	local pin
	for pin in $pins; do
		log "$name: ${pin%%=*} pinned to ${pin#*=} (the version $module requires is not served)"
		replaces+=$'\n'"${pin%%=*} => ${pin%%=*} ${pin#*=}"
	done
	replaces=$(sed '/^$/d' <<<"$replaces")

	local mod
	mod=$(mktemp -d "${TMPDIR:-/tmp}/ferry-peer-$name.XXXXXX")
	{
		echo "module ferry.local/peer-build/$name"
		echo
		echo "go $gover"
		echo
		echo "require $module $version"
		if [[ -n "$replaces" ]]; then
			echo
			echo "replace ("
			printf '\t%s\n' "${replaces//$'\n'/$'\n\t'}"
			echo ")"
		fi
	} >"$mod/go.mod"
	printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$mod/tools.go"

	local start=$SECONDS
	mkdir -p "$dir"
	# -e: tidy also resolves the imports of the peer's own tests, and some of their test-only
	# modules (fluxcd/pkg/helmtestserver, ...) are refused; go build says whether the binary needs
	# anything missing.
	if ! (cd "$mod" && GOTOOLCHAIN=$toolchain go mod tidy -e >&2); then
		log "FAILED: go mod tidy for $name (wrapper kept in $mod)"
		rmdir "$dir" 2>/dev/null || true
		return 1
	fi
	if ! (cd "$mod" && with_progress "go build $name" env GOTOOLCHAIN="$toolchain" \
		go build -trimpath -ldflags "-s -w ${stamp//@V@/${version#v}}" -o "$dir/$binary.tmp" "$pkg"); then
		log "FAILED: go build $pkg (wrapper kept in $mod)"
		rm -f "$dir/$binary.tmp"
		rmdir "$dir" 2>/dev/null || true
		return 1
	fi
	mv "$dir/$binary.tmp" "$dir/$binary"
	cp "$mod/go.mod" "$dir/wrapper.go.mod"
	echo "GOTOOLCHAIN=$toolchain" >"$dir/toolchain"
	rm -rf "$mod"
	echo "$((SECONDS - start))" >"$dir/build-seconds"
	log "$name $version: built in $((SECONDS - start))s, $(du -m "$dir/$binary" | cut -f1) MB"
	echo "$name $version $dir/$binary"
}

# Argo CD's controller and repo-server keep their cache in Redis. It comes from Debian's
# redis-server package: the one on PATH if it is installed, otherwise the package and the two
# libraries it needs that a bare machine lacks are unpacked into the cache (apt-get download and
# dpkg -x need no root and start no service), behind a small launcher that sets LD_LIBRARY_PATH.
build_redis() {
	if command -v redis-server >/dev/null; then
		echo "redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') $(command -v redis-server)"
		return 0
	fi
	local version
	version=$(apt-cache policy redis-server 2>/dev/null | awk '$1=="Candidate:"{print $2}')
	if [[ -z "$version" || "$version" == "(none)" ]]; then
		log "Debian's redis-server package is unknown to apt here: run apt-get update first"
		return 1
	fi
	local dir="$CACHE/redis-${version#*:}"
	if [[ -x "$dir/redis-server" ]]; then
		echo "redis ${version#*:} $dir/redis-server"
		return 0
	fi
	log "unpacking Debian's redis-server $version"
	local tmp
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-peer-redis.XXXXXX")
	if ! (cd "$tmp" && apt-get download "redis-server=$version" "redis-tools=$version" libjemalloc2 liblzf1 >&2); then
		log "FAILED: apt-get download redis-server (files kept in $tmp)"
		return 1
	fi
	mkdir -p "$dir/root"
	local deb
	for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dir/root"; done
	cat >"$dir/redis-server" <<-'EOF'
		#!/usr/bin/env bash
		# Debian's redis-server, unpacked by hack/build-peers.sh: its binary serves when called redis-server.
		here=$(dirname "$(readlink -f "$0")")
		LD_LIBRARY_PATH="$here/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec -a redis-server "$here/root/usr/bin/redis-check-rdb" "$@"
	EOF
	chmod +x "$dir/redis-server"
	rm -rf "$tmp"
	echo "redis ${version#*:} $dir/redis-server"
}

want=("$@")
failed=0
for spec in "${PEERS[@]}"; do
	IFS='|' read -r name module version pkg binary pins stamp <<<"$spec"
	if ((${#want[@]})) && [[ " ${want[*]} " != *" $name "* ]]; then
		continue
	fi
	if ! build_peer "$name" "$module" "$version" "$pkg" "$binary" "$pins" "$stamp"; then
		failed=1
		continue
	fi
	if [[ $name == argocd ]]; then
		for link in "${ARGOCD_LINKS[@]}"; do
			ln -sf "$binary" "$CACHE/$name-$version/$link"
		done
		# Argo CD's image puts these two scripts of its repository on PATH; argocd-repo-server runs
		# git-verify-wrapper.sh on every revision it renders and refuses the revision
		# ("permission denied") when it is missing. Put this directory first on its PATH.
		for script in git-verify-wrapper.sh gpg-wrapper.sh; do
			install -m 0755 "$(go env GOMODCACHE)/$module@$version/hack/$script" "$CACHE/$name-$version/$script"
		done
	fi
done
if ! ((${#want[@]})) || [[ " ${want[*]} " == *" redis "* ]]; then
	build_redis || failed=1
fi
exit $failed
