# shellcheck shell=bash disable=SC2034 # variables used by the scripts that source this file
# Shared by hack/local-up.sh and hack/local-down.sh: where the local stack lives and how its
# processes are found. Sourced, not executed.

# FERRY_DEV_DIR holds everything of one local stack: pki/, tokens.csv, kubeconfigs, etcd/ and
# ferry-data/ (the data), logs/, pids/, bin/, and env (the resolved ports and binaries).
FERRY_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FERRY_DEV_DIR=${FERRY_DEV_DIR:-$FERRY_REPO_ROOT/.dev}
# Absolute, so every process command line names it (pid_alive relies on that) and the path stays
# valid when the caller's working directory changes.
case $FERRY_DEV_DIR in
/*) ;;
*) FERRY_DEV_DIR=$PWD/$FERRY_DEV_DIR ;;
esac
FERRY_DEV_DIR=${FERRY_DEV_DIR%/}
export FERRY_DEV_DIR
PID_DIR=$FERRY_DEV_DIR/pids
LOG_DIR=$FERRY_DEV_DIR/logs
DEV_MARKER=$FERRY_DEV_DIR/.ferry-dev

# The components in start order.
COMPONENTS=(etcd kube-apiserver kube-controller-manager ferry-apiserver)
# The order local-down stops them in. kube-controller-manager goes first: its garbage collector
# and quota informers hold watches on applications through the aggregator, and ferry-apiserver
# does not exit on SIGTERM until its open watches end (or its 60 s shutdown timeout passes).
STOP_ORDER=(kube-controller-manager ferry-apiserver kube-apiserver etcd)

log() { printf '>>> %s\n' "$*"; }
warn() { printf '!!! %s\n' "$*" >&2; }

# pid_of NAME prints the pid recorded for NAME, or nothing.
pid_of() {
	local f=$PID_DIR/$1.pid
	[[ -s $f ]] && tr -dc '0-9' <"$f"
	return 0
}

# pid_alive NAME succeeds when NAME's recorded process runs and really is ours: its command line
# mentions FERRY_DEV_DIR (every component gets a path inside it), so a recycled pid is never
# mistaken for it, and it is not a zombie.
pid_alive() {
	local pid
	pid=$(pid_of "$1")
	[[ -n $pid ]] || return 1
	[[ -r /proc/$pid/cmdline ]] || return 1
	local state
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $state != Z ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$FERRY_DEV_DIR/"
}

# stop_component NAME [GRACE_SECONDS]: SIGTERM, then SIGKILL after the grace period.
stop_component() {
	local name=$1 grace=${2:-15}
	if ! pid_alive "$name"; then
		rm -f "$PID_DIR/$name.pid"
		return 0
	fi
	local pid
	pid=$(pid_of "$name")
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + grace))
	while pid_alive "$name" && ((SECONDS < deadline)); do
		sleep 0.1
	done
	if pid_alive "$name"; then
		warn "$name (pid $pid) did not stop within ${grace}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		deadline=$((SECONDS + 5))
		while pid_alive "$name" && ((SECONDS < deadline)); do
			sleep 0.1
		done
	fi
	rm -f "$PID_DIR/$name.pid"
}
