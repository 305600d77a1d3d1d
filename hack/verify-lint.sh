#!/usr/bin/env bash
# Runs golangci-lint (configured in .golangci.yml) and shellcheck on the repository, and fails on
# any finding. golangci-lint is built once from the Go module proxy into the same cache as the
# control plane; shellcheck comes from Debian's packages.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

GOLANGCI_LINT_VERSION="${GOLANGCI_LINT_VERSION:-v2.15.0}"
TOOLS="${FERRY_TOOLS:-$HOME/.cache/ferry/tools/golangci-lint-${GOLANGCI_LINT_VERSION}}"
LINT="$TOOLS/golangci-lint"

if [[ ! -x "$LINT" ]]; then
	echo ">>> building golangci-lint ${GOLANGCI_LINT_VERSION} (first run only, ~2 min)" >&2
	mkdir -p "$TOOLS"
	if ! GOBIN="$TOOLS" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}"; then
		echo "FAILED: building golangci-lint. Check that the Go module proxy is reachable (go env GOPROXY) and re-run." >&2
		exit 1
	fi
fi
echo ">>> golangci-lint run ./..."
"$LINT" run ./...

if ! command -v shellcheck >/dev/null; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo ">>> installing shellcheck from Debian's packages" >&2
		apt-get update -qq >/dev/null && apt-get install -y -qq shellcheck >/dev/null
	else
		echo "FAILED: shellcheck is not installed: apt-get install shellcheck (or your system's package), then re-run." >&2
		exit 1
	fi
fi
echo ">>> shellcheck"
shellcheck hack/*.sh .ci/run
