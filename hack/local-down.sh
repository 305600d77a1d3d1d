#!/usr/bin/env bash
# Stops the local Ferry stack started by hack/local-up.sh (`make dev-down`).
#
# Usage: hack/local-down.sh [--purge]
#   --purge   also delete FERRY_DEV_DIR: certificates, tokens, kubeconfigs, etcd and Ferry data, logs
#
# Only processes recorded in FERRY_DEV_DIR/pids whose command line names FERRY_DEV_DIR are
# signalled (SIGTERM, SIGKILL after 15 s), kube-controller-manager first (see STOP_ORDER).
set -Eeuo pipefail

# shellcheck source=hack/lib/dev-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dev-env.sh"

PURGE=0
for arg in "$@"; do
	case $arg in
	--purge) PURGE=1 ;;
	-h | --help)
		sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		warn "unknown argument: $arg (try --help)"
		exit 2
		;;
	esac
done

if [[ ! -d $FERRY_DEV_DIR ]]; then
	log "nothing to stop: $FERRY_DEV_DIR does not exist"
	exit 0
fi

# The FERRY_STOP_WITH_PID watchdog first, so it does not run local-down a second time.
stop_component watchdog 2
stopped=0
for name in "${STOP_ORDER[@]}"; do
	if pid_alive "$name"; then
		stop_component "$name"
		stopped=$((stopped + 1))
	else
		rm -f "$PID_DIR/$name.pid"
	fi
done
((stopped > 0)) || log "nothing was running in $FERRY_DEV_DIR"

if ((PURGE)); then
	if [[ ! -f $DEV_MARKER ]]; then
		warn "not deleting $FERRY_DEV_DIR: it has no $(basename "$DEV_MARKER") marker, so hack/local-up.sh did not create it"
		exit 1
	fi
	log "deleting $FERRY_DEV_DIR"
	rm -rf -- "$FERRY_DEV_DIR"
fi
