#!/usr/bin/env bash
# Starts a complete local Ferry stack on 127.0.0.1 (make dev-up): etcd, kube-apiserver,
# kube-controller-manager and ferry-apiserver registered through an APIService. The work is done
# in Go by hack/localstack over pkg/testing/localstack, the code the tests use too;
# `hack/local-up.sh --help` lists the ports and switches.
#
# Usage:
#   hack/local-up.sh                  start (or restart) the whole stack
#   hack/local-up.sh --restart-ferry  restart only ferry-apiserver, same ports and data
#   hack/local-down.sh [--purge]      stop it (and delete FERRY_DEV_DIR)
set -euo pipefail

cmd=up
case ${1:-} in
"") ;;
--restart-ferry) cmd=restart-ferry ;;
-h | --help) cmd=--help ;;
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
exec go run ./hack/localstack "$cmd"
