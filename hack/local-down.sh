#!/usr/bin/env bash
# Stops the local Ferry stack started by hack/local-up.sh (`make dev-down`).
#
# Usage: hack/local-down.sh [--purge]
#   --purge   also delete FERRY_DEV_DIR: certificates, tokens, kubeconfigs, etcd and Ferry data, logs
#
# Only processes recorded in FERRY_DEV_DIR/pids whose command line names FERRY_DEV_DIR are
# signalled (SIGTERM, SIGKILL after 15 s), kube-controller-manager first.
set -euo pipefail

case ${1:-} in
"" | --purge) ;;
-h | --help)
	sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "unknown argument: $1 (try --help)" >&2
	exit 2
	;;
esac
if [[ -n ${FERRY_DEV_DIR:-} ]]; then
	FERRY_DEV_DIR=$(realpath -m -- "$FERRY_DEV_DIR")
	export FERRY_DEV_DIR
fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec go run ./hack/localstack down "$@"
