#!/usr/bin/env bash
# Starts a complete local Ferry stack on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager
# and ferry-apiserver registered through an APIService, exactly as Ferry runs in a cluster
# (delegated authentication and authorisation, RBAC from artifacts/, TLS verified with a caBundle).
# Used by `make dev-up` and by the end-to-end tests in test/e2e.
#
# Usage:
#   hack/local-up.sh                  start (or restart) the whole stack
#   hack/local-up.sh --restart-ferry  restart only ferry-apiserver (rebuilt unless
#                                     FERRY_APISERVER_BIN is set), same ports and data
#   hack/local-down.sh [--purge]      stop it (and delete FERRY_DEV_DIR)
#
# Running it again while the stack is up restarts it cleanly: the running processes are stopped and
# started again with the same certificates, tokens and data (etcd and Ferry's data survive), so
# Applications created earlier are still there. Ports are resolved anew on each run.
#
# Environment:
#   FERRY_DEV_DIR        working directory (default <repo>/.dev)
#   ETCD_PORT            etcd client port        (default 22379)
#   ETCD_PEER_PORT       etcd peer port          (default ETCD_PORT+1, or a free port)
#   KUBE_PORT            kube-apiserver port     (default 26443)
#   KCM_PORT             kube-controller-manager port (default 20257)
#   FERRY_PORT           ferry-apiserver port    (default 28443)
#                        Each port may be 0 or "auto": a free port is picked.
#   FERRY_K8S_BIN        directory with etcd, kube-apiserver, kube-controller-manager, kubectl
#                        (default: built or reused by hack/build-control-plane.sh)
#   FERRY_APISERVER_BIN  ferry-apiserver binary to run (default: go build ./cmd/ferry-apiserver)
#   FERRY_SKIP_SERVER=1  start everything but ferry-apiserver and print how to run it by hand
#                        (for a debugger); the APIService is registered all the same
#   FERRY_DEMO=1         apply artifacts/examples/application.yaml and list Applications
#   FERRY_APISERVER_ARGS extra flags for ferry-apiserver (word-split)
#   WAIT_TIMEOUT         seconds to wait for each component (default 60)
#   FERRY_STOP_WITH_PID  stop the stack (hack/local-down.sh) when this process exits; the e2e
#                        tests pass their own pid so a killed test run leaves nothing behind
#
# Results in FERRY_DEV_DIR: kubeconfig (admin, system:masters), kubeconfig-<user> for the test users
# viewer, editor, nobody and other (tokens in tokens.csv; none of them has any permission until
# bound), logs/<component>.log, pids/<component>.pid, env (resolved ports, for scripts and tests).
set -Eeuo pipefail

# shellcheck source=hack/lib/dev-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/dev-env.sh"

RESTART_FERRY=0
for arg in "$@"; do
	case $arg in
	--restart-ferry) RESTART_FERRY=1 ;;
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

WAIT_TIMEOUT=${WAIT_TIMEOUT:-60}
PKI=$FERRY_DEV_DIR/pki
ADMIN_KUBECONFIG=$FERRY_DEV_DIR/kubeconfig
FERRY_KUBECONFIG=$FERRY_DEV_DIR/kubeconfig-ferry-apiserver
KCM_KUBECONFIG=$FERRY_DEV_DIR/kubeconfig-kube-controller-manager
ENV_FILE=$FERRY_DEV_DIR/env
APISERVICE=v1alpha1.gitops.ferry.dev
FERRY_SA_USER=system:serviceaccount:ferry-system:ferry-apiserver
TEST_USERS=(viewer editor nobody other)

# ---------------------------------------------------------------------------------------------
# Failure reporting

# fail MESSAGE [COMPONENT] [NEXT-STEP]: prints the message, the tail of the component's log and
# what to do next, and exits 1. Processes already started keep running, for inspection.
fail() {
	local msg=$1 comp=${2:-} next=${3:-}
	warn "FAILED: $msg"
	if [[ -n $comp && -s $LOG_DIR/$comp.log ]]; then
		warn "last 40 lines of $LOG_DIR/$comp.log:"
		tail -n 40 "$LOG_DIR/$comp.log" | sed 's/^/    /' >&2
	fi
	[[ -n $next ]] && warn "next: $next"
	warn "full logs: $LOG_DIR/; fix the cause and re-run $0 (it restarts cleanly);"
	warn "hack/local-down.sh stops whatever is still running."
	exit 1
}

on_err() {
	fail "command failed (exit $1) at line $2: $3"
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

# ---------------------------------------------------------------------------------------------
# Ports

# pick_free_ports N prints N distinct ports that nothing listens on right now.
pick_free_ports() {
	local n=$1
	if command -v python3 >/dev/null 2>&1; then
		# Bind them all at once so the kernel hands out N different ports.
		python3 - "$n" <<-'PY'
			import socket, sys
			socks = []
			for _ in range(int(sys.argv[1])):
			    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			    s.bind(("127.0.0.1", 0))
			    socks.append(s)
			print(" ".join(str(s.getsockname()[1]) for s in socks))
			for s in socks:
			    s.close()
		PY
		return
	fi
	# No python3: random ports below the Linux ephemeral range that refuse a connection.
	local ports=() p
	while ((${#ports[@]} < n)); do
		p=$((20000 + RANDOM % 12000))
		port_in_use "$p" && continue
		[[ " ${ports[*]} " == *" $p "* ]] && continue
		ports+=("$p")
	done
	echo "${ports[*]}"
}

port_in_use() {
	timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# resolve_ports sets ETCD_PORT, ETCD_PEER_PORT, KUBE_PORT, KCM_PORT and FERRY_PORT.
resolve_ports() {
	ETCD_PORT=${ETCD_PORT:-22379}
	KUBE_PORT=${KUBE_PORT:-26443}
	KCM_PORT=${KCM_PORT:-20257}
	FERRY_PORT=${FERRY_PORT:-28443}
	if [[ -z ${ETCD_PEER_PORT:-} ]]; then
		if [[ $ETCD_PORT =~ ^[1-9][0-9]*$ ]]; then
			ETCD_PEER_PORT=$((ETCD_PORT + 1))
		else
			ETCD_PEER_PORT=auto
		fi
	fi
	local auto=() var
	for var in ETCD_PORT ETCD_PEER_PORT KUBE_PORT KCM_PORT FERRY_PORT; do
		case ${!var} in
		0 | auto) auto+=("$var") ;;
		*)
			[[ ${!var} =~ ^[1-9][0-9]*$ && ${!var} -lt 65536 ]] ||
				fail "$var=${!var} is not a port number, 0 or auto"
			if port_in_use "${!var}"; then
				fail "$var ${!var} on 127.0.0.1 is in use by another process" "" \
					"free it (ss -ltnp 'sport = :${!var}'), or set $var to another port or to auto"
			fi
			;;
		esac
	done
	if ((${#auto[@]} > 0)); then
		local free
		read -r -a free <<<"$(pick_free_ports "${#auto[@]}")"
		local i
		for i in "${!auto[@]}"; do
			printf -v "${auto[$i]}" '%s' "${free[$i]}"
		done
	fi
}

# ---------------------------------------------------------------------------------------------
# Binaries

resolve_k8s_bin() {
	if [[ -z ${FERRY_K8S_BIN:-} ]]; then
		log "control-plane binaries: hack/build-control-plane.sh (cached after the first build)"
		FERRY_K8S_BIN=$("$FERRY_REPO_ROOT/hack/build-control-plane.sh") ||
			fail "hack/build-control-plane.sh failed" "" "read its output above"
	fi
	local b
	for b in etcd kube-apiserver kube-controller-manager kubectl; do
		[[ -x $FERRY_K8S_BIN/$b ]] ||
			fail "$FERRY_K8S_BIN/$b is missing" "" "run hack/build-control-plane.sh, or point FERRY_K8S_BIN at a directory holding it"
	done
	KUBECTL=$FERRY_K8S_BIN/kubectl
}

build_ferry() {
	if [[ -n ${FERRY_APISERVER_BIN:-} ]]; then
		[[ -x $FERRY_APISERVER_BIN ]] || fail "FERRY_APISERVER_BIN=$FERRY_APISERVER_BIN is not an executable"
		return
	fi
	FERRY_APISERVER_BIN=$FERRY_DEV_DIR/bin/ferry-apiserver
	log "building ferry-apiserver (go build ./cmd/ferry-apiserver)"
	mkdir -p "$FERRY_DEV_DIR/bin"
	if ! (cd "$FERRY_REPO_ROOT" && go build -o "$FERRY_APISERVER_BIN" ./cmd/ferry-apiserver) >"$LOG_DIR/build-ferry-apiserver.log" 2>&1; then
		fail "go build ./cmd/ferry-apiserver failed" build-ferry-apiserver \
			"fix the compile errors, or set FERRY_SKIP_SERVER=1 to bring up the control plane alone"
	fi
}

# ---------------------------------------------------------------------------------------------
# Certificates, tokens, kubeconfigs

gen_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
	chmod 600 "$1"
}

# gen_ca NAME CN
gen_ca() {
	gen_key "$PKI/$1.key"
	openssl req -x509 -new -sha256 -days 3650 -key "$PKI/$1.key" -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,digitalSignature,keyCertSign,cRLSign" \
		-out "$PKI/$1.crt" 2>/dev/null
}

# gen_cert NAME CA SUBJECT server|client [SUBJECT-ALT-NAMES]
gen_cert() {
	local name=$1 ca=$2 subject=$3 usage=$4 sans=${5:-}
	gen_key "$PKI/$name.key"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		echo "extendedKeyUsage=${usage}Auth"
		[[ -z $sans ]] || echo "subjectAltName=$sans"
	} >"$PKI/$name.ext"
	openssl req -new -sha256 -key "$PKI/$name.key" -subj "$subject" 2>/dev/null |
		openssl x509 -req -sha256 -days 3650 -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" \
			-set_serial "0x$(openssl rand -hex 15)" -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.ext"
}

PKI_FILES=(ca.crt ca.key kube-apiserver.crt kube-apiserver.key front-proxy-ca.crt front-proxy-ca.key
	front-proxy-client.crt front-proxy-client.key sa.key sa.pub ferry-ca.crt ferry-ca.key
	ferry-apiserver.crt ferry-apiserver.key admin.crt admin.key)

ensure_pki() {
	local f missing=0
	for f in "${PKI_FILES[@]}"; do
		[[ -s $PKI/$f ]] || missing=1
	done
	if ((missing == 0)); then
		log "reusing certificates in $PKI"
		return
	fi
	log "generating certificates in $PKI"
	rm -rf "$PKI"
	mkdir -p "$PKI"
	chmod 700 "$PKI"
	# The cluster CA signs kube-apiserver's serving certificate and client certificates.
	gen_ca ca ferry-dev-cluster-ca
	gen_cert kube-apiserver ca /CN=kube-apiserver server \
		"IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	# The aggregator's identity towards ferry-apiserver (requestheader authentication).
	gen_ca front-proxy-ca ferry-dev-front-proxy-ca
	gen_cert front-proxy-client front-proxy-ca /CN=front-proxy-client client
	# ServiceAccount token signing.
	gen_key "$PKI/sa.key"
	openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	# Ferry's own CA, given to the APIService as caBundle; the aggregator verifies the serving
	# certificate against ferry-apiserver.ferry-system.svc.
	gen_ca ferry-ca ferry-dev-ferry-ca
	gen_cert ferry-apiserver ferry-ca /CN=ferry-apiserver.ferry-system.svc server \
		"DNS:ferry-apiserver.ferry-system.svc,DNS:ferry-apiserver.ferry-system.svc.cluster.local,DNS:localhost,IP:127.0.0.1"
	# kube-controller-manager's identity.
	gen_cert admin ca "/O=system:masters/CN=ferry-dev-admin" client
}

ensure_tokens() {
	local f=$FERRY_DEV_DIR/tokens.csv
	if [[ -s $f ]]; then
		return
	fi
	log "generating user tokens in $f"
	local tok u
	{
		tok=$(openssl rand -hex 20)
		echo "$tok,admin,admin,\"system:masters\""
		for u in "${TEST_USERS[@]}"; do
			tok=$(openssl rand -hex 20)
			echo "$tok,$u,$u"
		done
		# Ferry's identity looks exactly like its in-cluster ServiceAccount, so the RBAC in
		# artifacts/ grants it what it would get in a cluster, no more.
		tok=$(openssl rand -hex 20)
		echo "$tok,$FERRY_SA_USER,ferry-apiserver-uid,\"system:serviceaccounts,system:serviceaccounts:ferry-system,system:authenticated\""
	} >"$f.tmp"
	chmod 600 "$f.tmp"
	mv "$f.tmp" "$f"
}

# token_of USER
token_of() {
	awk -F, -v u="$1" '$2 == u {print $1; exit}' "$FERRY_DEV_DIR/tokens.csv"
}

# write_kubeconfig FILE USER token TOKEN | cert CERT KEY
write_kubeconfig() {
	local file=$1 user=$2 kind=$3
	{
		cat <<-EOF
			apiVersion: v1
			kind: Config
			clusters:
			- name: ferry-dev
			  cluster:
			    server: https://127.0.0.1:$KUBE_PORT
			    certificate-authority: $PKI/ca.crt
			users:
			- name: $user
			  user:
		EOF
		if [[ $kind == token ]]; then
			echo "    token: $4"
		else
			echo "    client-certificate: $4"
			echo "    client-key: $5"
		fi
		cat <<-EOF
			contexts:
			- name: ferry-dev-$user
			  context:
			    cluster: ferry-dev
			    user: $user
			    namespace: default
			current-context: ferry-dev-$user
		EOF
	} >"$file.tmp"
	chmod 600 "$file.tmp"
	mv "$file.tmp" "$file"
}

write_kubeconfigs() {
	write_kubeconfig "$ADMIN_KUBECONFIG" admin token "$(token_of admin)"
	write_kubeconfig "$FERRY_KUBECONFIG" ferry-apiserver token "$(token_of "$FERRY_SA_USER")"
	write_kubeconfig "$KCM_KUBECONFIG" kube-controller-manager cert "$PKI/admin.crt" "$PKI/admin.key"
	local u
	for u in "${TEST_USERS[@]}"; do
		write_kubeconfig "$FERRY_DEV_DIR/kubeconfig-$u" "$u" token "$(token_of "$u")"
	done
}

write_env() {
	cat >"$ENV_FILE.tmp" <<-EOF
		# Written by hack/local-up.sh; read by hack/local-up.sh --restart-ferry and test/e2e.
		FERRY_DEV_DIR=$FERRY_DEV_DIR
		FERRY_K8S_BIN=$FERRY_K8S_BIN
		KUBECTL=$KUBECTL
		KUBECONFIG=$ADMIN_KUBECONFIG
		ETCD_PORT=$ETCD_PORT
		ETCD_PEER_PORT=$ETCD_PEER_PORT
		KUBE_PORT=$KUBE_PORT
		KCM_PORT=$KCM_PORT
		FERRY_PORT=$FERRY_PORT
		FERRY_APISERVER_BIN=${FERRY_APISERVER_BIN:-}
	EOF
	mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------------------------------------
# Processes

# start_bg NAME COMMAND...: runs COMMAND in its own session (so neither this script's end nor a
# closed terminal stops it), output to logs/NAME.log (the previous one kept as NAME.log.prev),
# pid in pids/NAME.pid.
start_bg() {
	local name=$1
	shift
	local logf=$LOG_DIR/$name.log pidf=$PID_DIR/$name.pid
	[[ -f $logf ]] && mv -f "$logf" "$logf.prev"
	rm -f "$pidf"
	{
		echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) started by hack/local-up.sh:"
		printf '#'
		printf ' %q' "$@"
		echo
	} >"$logf"
	# The inner shell writes its own pid and then execs the command, so the pid file names the
	# component itself whether or not setsid had to fork.
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" </dev/null >>"$logf" 2>&1 &
	local deadline=$((SECONDS + 5))
	until [[ -s $pidf ]]; do
		((SECONDS < deadline)) || fail "$name did not start" "$name"
		sleep 0.05
	done
}

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# wait_until COMPONENT WHAT TIMEOUT CHECK...: polls CHECK every 0.2 s until it succeeds. Returns 1,
# with the reason in WAIT_ERR, when COMPONENT's process has exited or TIMEOUT seconds have passed.
wait_until() {
	local comp=$1 what=$2 timeout=$3
	shift 3
	local start next now
	start=$(now_ms)
	next=$((start + 5000))
	until "$@" >/dev/null 2>&1; do
		if [[ -n $comp ]] && ! pid_alive "$comp"; then
			WAIT_ERR="$comp exited while waiting for $what"
			return 1
		fi
		now=$(now_ms)
		if ((now - start >= timeout * 1000)); then
			WAIT_ERR="timed out after ${timeout}s waiting for $what"
			return 1
		fi
		if ((now >= next)); then
			log "    ... still waiting for $what ($(((now - start) / 1000))s)"
			next=$((now + 5000))
		fi
		sleep 0.2
	done
	local took=$(($(now_ms) - start))
	log "    $what after $((took / 1000)).$(printf '%03d' $((took % 1000)))s"
}

kc() {
	"$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" --cache-dir "$FERRY_DEV_DIR/.kube-cache" "$@"
}

http_ok() { # URL CA [TOKEN]
	local args=(--silent --show-error --fail --max-time 2 --cacert "$2" -o /dev/null)
	[[ -n ${3:-} ]] && args+=(-H "Authorization: Bearer $3")
	curl "${args[@]}" "$1"
}

start_etcd() {
	log "starting etcd on 127.0.0.1:$ETCD_PORT (peer $ETCD_PEER_PORT), data in $FERRY_DEV_DIR/etcd"
	mkdir -p "$FERRY_DEV_DIR/etcd"
	chmod 700 "$FERRY_DEV_DIR/etcd"
	start_bg etcd "$FERRY_K8S_BIN/etcd" \
		--name ferry-dev \
		--data-dir "$FERRY_DEV_DIR/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "ferry-dev=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync \
		--log-level warn
	wait_until etcd "etcd healthy" "$WAIT_TIMEOUT" \
		curl --silent --fail --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" || fail "$WAIT_ERR" etcd
}

start_kube_apiserver() {
	log "starting kube-apiserver on 127.0.0.1:$KUBE_PORT"
	start_bg kube-apiserver "$FERRY_K8S_BIN/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --secure-port "$KUBE_PORT" \
		--advertise-address 127.0.0.1 --endpoint-reconciler-type none \
		--tls-cert-file "$PKI/kube-apiserver.crt" --tls-private-key-file "$PKI/kube-apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--token-auth-file "$FERRY_DEV_DIR/tokens.csv" \
		--service-account-key-file "$PKI/sa.pub" \
		--service-account-signing-key-file "$PKI/sa.key" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--api-audiences https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range 10.0.0.0/24 \
		--authorization-mode Node,RBAC \
		--requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
		--requestheader-allowed-names front-proxy-client \
		--requestheader-extra-headers-prefix X-Remote-Extra- \
		--requestheader-group-headers X-Remote-Group \
		--requestheader-username-headers X-Remote-User \
		--proxy-client-cert-file "$PKI/front-proxy-client.crt" \
		--proxy-client-key-file "$PKI/front-proxy-client.key" \
		--enable-aggregator-routing=true \
		--profiling=false
	wait_until kube-apiserver "kube-apiserver /readyz" "$WAIT_TIMEOUT" \
		http_ok "https://127.0.0.1:$KUBE_PORT/readyz" "$PKI/ca.crt" "$(token_of admin)" ||
		fail "$WAIT_ERR" kube-apiserver
}

start_kube_controller_manager() {
	log "starting kube-controller-manager on 127.0.0.1:$KCM_PORT"
	mkdir -p "$FERRY_DEV_DIR/kcm-certs"
	# --kube-api-qps: at the default 20 requests per second, finishing 200 Deployments takes it
	# ~40 s and deleting a namespace ~2 s, which benchmarks and tests would otherwise measure.
	start_bg kube-controller-manager "$FERRY_K8S_BIN/kube-controller-manager" \
		--kubeconfig "$KCM_KUBECONFIG" \
		--authentication-kubeconfig "$KCM_KUBECONFIG" \
		--authorization-kubeconfig "$KCM_KUBECONFIG" \
		--bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
		--cert-dir "$FERRY_DEV_DIR/kcm-certs" \
		--controllers '*' --leader-elect=false \
		--kube-api-qps 200 --kube-api-burst 400 \
		--use-service-account-credentials=false \
		--service-account-private-key-file "$PKI/sa.key" \
		--root-ca-file "$PKI/ca.crt" \
		--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
		--profiling=false
	# Its serving certificate is self-signed in kcm-certs/, hence --insecure for this probe only.
	wait_until kube-controller-manager "kube-controller-manager /healthz" "$WAIT_TIMEOUT" \
		curl --silent --fail --insecure --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz" ||
		fail "$WAIT_ERR" kube-controller-manager
	# Controllers really run once the ServiceAccount controller has created default/default.
	wait_until kube-controller-manager "controllers running (ServiceAccount default/default)" "$WAIT_TIMEOUT" \
		kc get serviceaccount default --namespace default ||
		fail "$WAIT_ERR" kube-controller-manager
}

# register_ferry applies what kube-apiserver needs to route gitops.ferry.dev to 127.0.0.1:FERRY_PORT:
# the namespace, ServiceAccount and RBAC from artifacts/ unchanged; a selector-less Service with
# an FQDN EndpointSlice "127.0.0.1" (the 1.37 aggregator refuses loopback IPs but resolves an FQDN
# slice); and artifacts/apiservice.yaml with Ferry's CA as caBundle.
register_ferry() {
	log "registering Ferry: artifacts/{namespace,serviceaccount,rbac}.yaml, local Service/EndpointSlice, APIService"
	local out
	out=$(kc apply -f "$FERRY_REPO_ROOT/artifacts/namespace.yaml" \
		-f "$FERRY_REPO_ROOT/artifacts/serviceaccount.yaml" \
		-f "$FERRY_REPO_ROOT/artifacts/rbac.yaml" 2>&1) ||
		fail "kubectl apply of artifacts/ failed: $out" kube-apiserver
	out=$(kc apply -f - 2>&1 <<-EOF
		apiVersion: v1
		kind: Service
		metadata:
		  name: ferry-apiserver
		  namespace: ferry-system
		  labels:
		    app.kubernetes.io/name: ferry-apiserver
		    app.kubernetes.io/managed-by: ferry-local-up
		spec:
		  # No selector: the endpoint is this machine, given by the EndpointSlice below.
		  ports:
		  - name: https
		    port: 443
		    protocol: TCP
		    targetPort: $FERRY_PORT
		---
		apiVersion: discovery.k8s.io/v1
		kind: EndpointSlice
		metadata:
		  name: ferry-apiserver-local
		  namespace: ferry-system
		  labels:
		    kubernetes.io/service-name: ferry-apiserver
		    endpointslice.kubernetes.io/managed-by: local-up.ferry.dev
		addressType: FQDN
		endpoints:
		- addresses: ["127.0.0.1"]
		  conditions:
		    ready: true
		ports:
		- name: https
		  port: $FERRY_PORT
		  protocol: TCP
	EOF
	) || fail "kubectl apply of the local Service/EndpointSlice failed: $out" kube-apiserver
	local ca
	ca=$(base64 -w0 <"$PKI/ferry-ca.crt")
	out=$(sed "s|\${FERRY_CA_BUNDLE}|$ca|" "$FERRY_REPO_ROOT/artifacts/apiservice.yaml" | kc apply -f - 2>&1) ||
		fail "kubectl apply of artifacts/apiservice.yaml failed: $out" kube-apiserver
}

ferry_command() {
	FERRY_CMD=("$FERRY_APISERVER_BIN"
		--bind-address 127.0.0.1 --secure-port "$FERRY_PORT"
		--tls-cert-file "$PKI/ferry-apiserver.crt" --tls-private-key-file "$PKI/ferry-apiserver.key"
		--kubeconfig "$FERRY_KUBECONFIG"
		--authentication-kubeconfig "$FERRY_KUBECONFIG"
		--authorization-kubeconfig "$FERRY_KUBECONFIG"
		--data-dir "$FERRY_DEV_DIR/ferry-data"
		--allow-file-repositories)
	if [[ -n ${FERRY_APISERVER_ARGS:-} ]]; then
		local extra
		read -r -a extra <<<"$FERRY_APISERVER_ARGS"
		FERRY_CMD+=("${extra[@]}")
	fi
}

apiservice_available() {
	[[ $(kc get apiservice "$APISERVICE" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}') == True ]]
}

start_ferry() {
	ferry_command
	log "starting ferry-apiserver on 127.0.0.1:$FERRY_PORT ($FERRY_APISERVER_BIN), data in $FERRY_DEV_DIR/ferry-data"
	mkdir -p "$FERRY_DEV_DIR/ferry-data"
	chmod 700 "$FERRY_DEV_DIR/ferry-data"
	start_bg ferry-apiserver "${FERRY_CMD[@]}"
	wait_until ferry-apiserver "ferry-apiserver /readyz" "$WAIT_TIMEOUT" \
		http_ok "https://127.0.0.1:$FERRY_PORT/readyz" "$PKI/ferry-ca.crt" ||
		fail "$WAIT_ERR" ferry-apiserver "if /readyz answers 401/403, check --authorization-always-allow-paths; else read the log above"
	if ! wait_until ferry-apiserver "APIService $APISERVICE Available" "$WAIT_TIMEOUT" apiservice_available; then
		local why
		why=$(kc get apiservice "$APISERVICE" -o jsonpath='{.status.conditions[?(@.type=="Available")].reason}: {.status.conditions[?(@.type=="Available")].message}' 2>&1 || true)
		fail "$WAIT_ERR ($why)" ferry-apiserver \
			"check $LOG_DIR/kube-apiserver.log for the aggregator's view (grep $APISERVICE) and the log above"
	fi
}

# start_watchdog runs hack/local-down.sh once FERRY_STOP_WITH_PID has exited.
start_watchdog() {
	local pid=$FERRY_STOP_WITH_PID
	if ! [[ $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
		fail "FERRY_STOP_WITH_PID=$pid is not a running process"
	fi
	log "the stack stops when process $pid exits (FERRY_STOP_WITH_PID)"
	local pidf=$PID_DIR/watchdog.pid
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid bash -c 'echo $$ >"$0"; while kill -0 "$1" 2>/dev/null; do sleep 1; done
		rm -f "$0"; echo "process $1 exited; stopping the stack"; exec "$2"' \
		"$pidf" "$pid" "$FERRY_REPO_ROOT/hack/local-down.sh" \
		</dev/null >>"$LOG_DIR/watchdog.log" 2>&1 &
}

# ---------------------------------------------------------------------------------------------
# Demo

demo() {
	# A local Git repository holding artifacts/examples/guestbook/ at path guestbook, served to
	# Ferry as a file:// URL (the server runs with --allow-file-repositories).
	local repo=$FERRY_DEV_DIR/demo/examples.git work=$FERRY_DEV_DIR/demo/work
	if [[ ! -d $repo ]]; then
		log "FERRY_DEMO=1: creating the demo Git repository $repo from artifacts/examples/guestbook/"
		git init --quiet --bare --initial-branch=main "$repo"
		rm -rf "$work"
		git init --quiet --initial-branch=main "$work"
		mkdir -p "$work/guestbook"
		cp "$FERRY_REPO_ROOT"/artifacts/examples/guestbook/*.yaml "$work/guestbook/"
		git -C "$work" add --all
		git -C "$work" -c user.name="Ferry demo" -c user.email=demo@ferry.invalid commit --quiet -m "guestbook example"
		git -C "$work" push --quiet "$repo" main
	fi
	log "FERRY_DEMO=1: applying artifacts/examples/application.yaml with repoURL file://$repo"
	sed "s|repoURL: .*|repoURL: file://$repo|" "$FERRY_REPO_ROOT/artifacts/examples/application.yaml" | kc apply -f -
	log "waiting for the guestbook Application to be Ready (kubectl wait --for=condition=Ready)"
	if ! kc wait --for=condition=Ready application/guestbook -n default --timeout=90s; then
		warn "the demo Application is not Ready; its status:"
		kc get application guestbook -n default -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' || true
		fail "the demo Application did not become Ready" ferry-apiserver "read the conditions above and $LOG_DIR/ferry-apiserver.log"
	fi
	log "kubectl get applications -A"
	kc get applications -A
	log "kubectl get configmaps,services,serviceaccounts -n guestbook -l gitops.ferry.dev/app"
	kc get configmaps,services,serviceaccounts -n guestbook -l gitops.ferry.dev/app
	cat <<-EOF

		The demo repository's working copy is $work: edit guestbook/*.yaml there, then
		  git -C $work commit -am change && git -C $work push $repo main
		and Ferry applies it at the next check of Git (spec.syncPolicy.interval, 3m by default), or
		at once after a sync request:
		  kubectl create --raw /apis/gitops.ferry.dev/v1alpha1/namespaces/default/applications/guestbook/sync \\
		    -f <(echo '{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync"}')
		Edit a deployed object by hand (kubectl -n guestbook edit configmap guestbook-config) and
		Ferry puts Git's version back within a second (selfHeal).
	EOF
}

# ---------------------------------------------------------------------------------------------

summary() {
	cat <<-EOF

		Ferry local stack is up (FERRY_DEV_DIR=$FERRY_DEV_DIR).
		  export KUBECONFIG=$ADMIN_KUBECONFIG   # admin (system:masters)
		  alias kubectl=$KUBECTL         # v1.37 kubectl matching the control plane
		  kubectl get applications -A
		Test users (no permissions until bound; e.g. kubectl create rolebinding v --clusterrole ferry-view --user viewer):
		$(for u in "${TEST_USERS[@]}"; do printf '  %-7s KUBECONFIG=%s\n' "$u" "$FERRY_DEV_DIR/kubeconfig-$u"; done)
		Ports: etcd $ETCD_PORT, kube-apiserver $KUBE_PORT, kube-controller-manager $KCM_PORT, ferry-apiserver $FERRY_PORT
		Logs:  $LOG_DIR/   Restart Ferry: hack/local-up.sh --restart-ferry   Stop: hack/local-down.sh [--purge]
	EOF
}

restart_ferry() {
	[[ -s $ENV_FILE ]] || fail "$ENV_FILE is missing: the stack was never started in $FERRY_DEV_DIR" "" "run $0 first"
	local given_bin=${FERRY_APISERVER_BIN:-}
	# shellcheck source=/dev/null
	source "$ENV_FILE"
	FERRY_APISERVER_BIN=$given_bin
	KUBECTL=$FERRY_K8S_BIN/kubectl
	pid_alive kube-apiserver || fail "kube-apiserver is not running in $FERRY_DEV_DIR" kube-apiserver "run $0 to start the whole stack"
	build_ferry
	stop_component ferry-apiserver
	if port_in_use "$FERRY_PORT"; then
		fail "FERRY_PORT $FERRY_PORT is still in use after stopping ferry-apiserver" ferry-apiserver \
			"find the process with ss -ltnp 'sport = :$FERRY_PORT'"
	fi
	write_env
	start_ferry
	log "ferry-apiserver restarted (pid $(pid_of ferry-apiserver))"
}

main() {
	mkdir -p "$FERRY_DEV_DIR" "$LOG_DIR" "$PID_DIR"
	touch "$DEV_MARKER"
	if ((RESTART_FERRY)); then
		restart_ferry
		return
	fi

	local c running=()
	for c in "${COMPONENTS[@]}"; do
		pid_alive "$c" && running+=("$c")
	done
	if ((${#running[@]} > 0)); then
		log "already running in $FERRY_DEV_DIR: ${running[*]}; restarting (certificates, tokens and data are kept)"
		"$FERRY_REPO_ROOT/hack/local-down.sh"
	fi

	if [[ -n ${FERRY_STOP_WITH_PID:-} ]]; then
		start_watchdog
	fi
	resolve_k8s_bin
	if [[ ${FERRY_SKIP_SERVER:-0} != 1 ]]; then
		build_ferry
	fi
	resolve_ports
	ensure_pki
	ensure_tokens
	write_kubeconfigs
	write_env

	start_etcd
	start_kube_apiserver
	start_kube_controller_manager
	register_ferry

	if [[ ${FERRY_SKIP_SERVER:-0} == 1 ]]; then
		FERRY_APISERVER_BIN=${FERRY_APISERVER_BIN:-$FERRY_DEV_DIR/bin/ferry-apiserver}
		ferry_command
		log "FERRY_SKIP_SERVER=1: ferry-apiserver not started. Run it yourself (e.g. under dlv) with:"
		printf '   '
		printf ' %q' "${FERRY_CMD[@]}"
		echo
		log "the APIService turns Available once it serves on 127.0.0.1:$FERRY_PORT"
	else
		start_ferry
		if [[ ${FERRY_DEMO:-0} == 1 ]]; then
			demo
		fi
	fi
	summary
}

main
