# shellcheck shell=bash disable=SC2034
# Starting, checking and stopping the cluster's processes, by PID.
# Each component's PID and binary are recorded in $KV_STATE/run/NAME.pid; a PID only
# counts as ours while /proc/PID/exe is still that binary (guards against PID reuse).

kv_pidns() { readlink /proc/self/ns/pid; }

kv_pid() {
	local f=$KV_STATE/run/$1.pid pid bin ns exe
	[[ -s $f ]] || return 1
	read -r pid bin ns <"$f" || return 1
	# From another PID namespace the PIDs mean nothing (kv_check_pidns refuses earlier).
	[[ -z $ns || $ns == "$(kv_pidns)" ]] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[[ ${exe% (deleted)} == "$bin" ]] || return 1
	echo "$pid"
}

# Dies when the recorded processes were started from another PID namespace: their PIDs
# would name other processes here, and `down` would lose track of them.
kv_check_pidns() {
	local f pid bin ns
	for f in "$KV_STATE"/run/*.pid; do
		[[ -s $f ]] || continue
		read -r pid bin ns <"$f" || continue
		if [[ -n $ns && $ns != "$(kv_pidns)" ]]; then
			kv_die "the cluster in $KV_STATE was started from PID namespace $ns, this is $(kv_pidns): run this command from there"
		fi
	done
}

kv_alive() { kv_pid "$1" >/dev/null; }

# kv_start NAME BINARY ARGS...: starts BINARY in its own session, output to logs/NAME.log.
kv_start() {
	local name=$1 bin=$2
	shift 2
	if kv_alive "$name"; then
		kv_log "$name already running (pid $(kv_pid "$name"))"
		return 0
	fi
	[[ -x $bin ]] || kv_die "$name: $bin is missing (run: tools/cluster/cluster build)"
	kv_check_ports "$name"
	mkdir -p "$KV_STATE/run" "$KV_STATE/logs"
	printf '\n==== %s start: %s %s\n' "$(date -Is)" "$bin" "$*" >>"$KV_STATE/logs/$name.log"
	# 9>&-: the children must not inherit (and so hold) the state lock. KV_NODE_EXEC enters the
	# node's namespaces (nsenter execs, so the PID is the binary's).
	setsid "${KV_NODE_EXEC[@]}" "$bin" "$@" >>"$KV_STATE/logs/$name.log" 2>&1 </dev/null 9>&- &
	echo "$! $(readlink -f "$bin") $(kv_pidns)" >"$KV_STATE/run/$name.pid"
	kv_log "started $name (pid $!, log $KV_STATE/logs/$name.log)"
}

# Fails when a port of component NAME is taken while NAME itself is not running here.
kv_check_ports() {
	local name=$1 port out
	kv_alive "$name" && return 0
	for port in ${KV_PORTS[$name]:-}; do
		out=$(ss -Hltn "sport = :$port" 2>/dev/null || true)
		if [[ -n $out ]]; then
			kv_die "$name: port $port is already in use (another cluster up? tools/cluster/cluster status; ss -ltnp)"
		fi
	done
}

# kv_wait NAME DESCRIPTION TIMEOUT_S COMMAND...: polls COMMAND until it succeeds; fails
# early, pointing at the log, if component NAME (when not "-") has exited.
kv_wait() {
	local name=$1 what=$2 timeout=$3 deadline
	shift 3
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [[ $name != - ]] && ! kv_alive "$name"; then
			kv_log "last lines of $KV_STATE/logs/$name.log:"
			tail -n 15 "$KV_STATE/logs/$name.log" >&2 || true
			kv_die "$name exited while waiting for $what; read $KV_STATE/logs/$name.log"
		fi
		if ((SECONDS >= deadline)); then
			if [[ $name != - ]]; then kv_log "last lines of $KV_STATE/logs/$name.log:"; tail -n 15 "$KV_STATE/logs/$name.log" >&2 || true; fi
			kv_die "timed out after ${timeout}s waiting for $what${name:+; read $KV_STATE/logs/$name.log}"
		fi
		sleep 0.3
	done
}

# kv_kill_pids TIMEOUT_S PID...: SIGTERM, then SIGKILL after TIMEOUT_S; waits for exit.
kv_kill_pids() {
	local timeout=$1 deadline p left pids=()
	shift
	# Never 0 or 1 (kill 0 is our own process group), never ourselves.
	for p in "$@"; do
		[[ $p =~ ^[0-9]+$ ]] && ((p > 1 && p != $$ && p != BASHPID)) && pids+=("$p")
	done
	set -- "${pids[@]}"
	(($#)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	deadline=$((SECONDS + timeout))
	while :; do
		left=()
		for p in "$@"; do [[ -d /proc/$p ]] && [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]] && left+=("$p"); done
		((${#left[@]})) || return 0
		if ((SECONDS >= deadline)); then
			kill -KILL "${left[@]}" 2>/dev/null || true
			deadline=$((SECONDS + 10))
			timeout=-1
		fi
		((timeout < 0 && SECONDS >= deadline)) && { kv_log "WARNING: pids still alive: ${left[*]}"; return 1; }
		sleep 0.1
	done
}

kv_stop() {
	local name=$1 timeout=${2:-15} pid
	if pid=$(kv_pid "$name"); then
		kv_log "stopping $name (pid $pid)"
		kv_kill_pids "$timeout" "$pid" || true
	fi
	rm -f "$KV_STATE/run/$name.pid"
}
