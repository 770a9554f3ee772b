#!/usr/bin/env bash
# throughput.sh — TCP throughput, UDP packet rate and daemon CPU of the
# gretun example daemon against a plain veth pair and wireguard-go.
#
# Usage (as root, from anywhere):
#
#   bench/throughput.sh [--quick] [--rounds N] [--time SECONDS]
#                       [--rows veth,wireguard-go,gre,...] [--no-install]
#
#   --quick       smoke test: 1 round of 3 s (and a 3 s UDP run)
#   --rounds N    TCP rounds per row (default 3)
#   --time S      length of each iperf3 run in seconds (default 10)
#   --rows LIST   comma-separated subset of the rows below (default: all)
#   --no-install  do not apt-get install missing tools
#   GRETUN=PATH   (environment) use this gretun binary instead of building one
#
# What it does:
#   1. Installs iperf3, wireguard-tools, iproute2, procps, iputils-ping and
#      jq with apt-get when one of their commands is missing; builds
#      wireguard-go (golang.zx2c4.com/wireguard, pinned) and gretun
#      (./examples/gretun of this repository) into a temporary directory.
#   2. Creates two network namespaces, ipenc-tp-a-PID and ipenc-tp-b-PID,
#      joined by a veth pair: 198.51.100.1/24 and 198.51.100.2/24 (and
#      2001:db8::1/64, 2001:db8::2/64), MTU 1500. No traffic leaves them.
#   3. Measures these rows, round-robin (every row once per round), each
#      brought up before and torn down after its run:
#        veth              iperf3 straight over the veth pair
#        wireguard-go      wireguard-go in each namespace, 192.0.2.1/30 and .2/30
#        gre               gretun -mode gre
#        gre-key-csum-seq  gretun -mode gre -key 5 -csum -seq
#        ipip              gretun -mode ipip
#        gre-in-udp        gretun -mode gre-in-udp -port 4754 -lport 4754
#      Each run: a bounded ping until the tunnel answers (ping -c 1 -W 1,
#      up to 10 tries), then iperf3 TCP (-t 10 -J) from namespace A to B.
#      The CPU time (utime+stime from /proc/PID/stat) of each side's daemon
#      over the TCP run, divided by the wall time, gives cores used. In
#      round 1 each row also gets one iperf3 UDP run (-u -b 0) with
#      datagrams of min(1400, inner MTU - 28) bytes; the packet rate is the
#      one the receiver got (sent less lost), in thousands per second.
#   4. Prints a table, then ends with one line per row:
#        <row> <median Gbit/s> <ratio to wireguard-go>x
#      A row whose daemon did not come up or whose iperf3 failed prints
#      `<row> failed` (its daemons' output goes to stderr), and the script
#      then exits 1 once every row has run.
#
# Everything is bounded in time (iperf3 under timeout, pings limited), and
# an EXIT trap kills only the processes this script started and deletes
# its namespaces and temporary directory, on success and failure alike.
set -euo pipefail

WG_MODULE=golang.zx2c4.com/wireguard@v0.0.0-20260522210424-ecfc5a8d5446
ALL_ROWS=(veth wireguard-go gre gre-key-csum-seq ipip gre-in-udp)
ROUNDS=3
DUR=10
INSTALL=1
ROWS=("${ALL_ROWS[@]}")

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
	case $1 in
	--quick) ROUNDS=1 DUR=3 ;;
	--rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
	--time) DUR=${2:?--time needs seconds}; shift ;;
	--rows) IFS=, read -r -a ROWS <<<"${2:?--rows needs a list}"; shift ;;
	--no-install) INSTALL=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "throughput.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DUR =~ ^[1-9][0-9]*$ ]] || { echo "throughput.sh: bad --rounds/--time" >&2; exit 2; }
for r in "${ROWS[@]}"; do
	[[ " ${ALL_ROWS[*]} " == *" $r "* ]] || { echo "throughput.sh: unknown row $r" >&2; exit 2; }
done
((EUID == 0)) || { echo "throughput.sh: needs root (network namespaces, TUN)" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NSA=ipenc-tp-a-$$
NSB=ipenc-tp-b-$$
VA=tpa$$ # veth ends (created directly inside the namespaces)
VB=tpb$$
A4=198.51.100.1 B4=198.51.100.2
IN_A=192.0.2.1 IN_B=192.0.2.2
PORT=5201
HZ=$(getconf CLK_TCK)
TMP=
PIDS=() # every process this script started and has not yet reaped

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# ---- processes ----------------------------------------------------------

# start_in NS LOGFILE CMD... starts CMD in namespace NS in the background;
# `ip netns exec` and `env` exec, so $! is the command's own PID.
start_in() {
	local ns=$1 out=$2
	shift 2
	ip netns exec "$ns" "$@" >"$out" 2>&1 </dev/null &
	LASTPID=$!
	PIDS+=("$LASTPID")
}

untrack() {
	local p keep=()
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# alive PID: running and not a zombie.
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ ${st:0:1} != Z ]]
}

# stop PID: SIGTERM, up to 5 s, then SIGKILL; sets STOP_RC to its status.
stop() {
	local pid=$1 i
	STOP_RC=0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
	if alive "$pid"; then
		log "pid $pid ignored SIGTERM for 5 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || STOP_RC=$?
	untrack "$pid"
}

# cputicks PID: utime+stime in clock ticks.
cputicks() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	st=${st##*) }
	# after the comm field: state(3) ... utime(14) stime(15) => words 12, 13
	awk '{print $12 + $13}' <<<"$st"
}

# systicks PID: stime alone, the CPU time spent in the kernel for it.
systicks() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	st=${st##*) }
	awk '{print $13}' <<<"$st"
}

cleanup() {
	local rc=$? p
	set +e
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for ((i = 0; i < 30; i++)); do
		local any=0
		for p in "${PIDS[@]}"; do alive "$p" && any=1; done
		((any)) || break
		sleep 0.1
	done
	for p in "${PIDS[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	[[ -n $TMP ]] && rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- tools --------------------------------------------------------------

need=()
for c in iperf3:iperf3 wg:wireguard-tools ip:iproute2 pgrep:procps ping:iputils-ping jq:jq timeout:coreutils; do
	command -v "${c%%:*}" >/dev/null || need+=("${c#*:}")
done
if ((${#need[@]})); then
	((INSTALL)) || { echo "throughput.sh: missing ${need[*]} (and --no-install)" >&2; exit 2; }
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 wireguard-tools iproute2 procps iputils-ping jq >/dev/null
fi
command -v go >/dev/null || { echo "throughput.sh: go is needed to build wireguard-go and gretun" >&2; exit 2; }

TMP=$(mktemp -d /tmp/ipenc-tp.XXXXXX)

WG_BIN= GRETUN_BIN=
log "building wireguard-go ($WG_MODULE)"
if (cd "$TMP" && GOBIN=$TMP GOFLAGS= go install "$WG_MODULE") >"$TMP/wg-build.log" 2>&1 && [[ -x $TMP/wireguard ]]; then
	WG_BIN=$TMP/wireguard
else
	log "wireguard-go did not build:"; cat "$TMP/wg-build.log" >&2
fi
if [[ -n ${GRETUN:-} ]]; then
	log "gretun: using \$GRETUN=$GRETUN"
	GRETUN_BIN=$GRETUN
elif log "building gretun (./examples/gretun)" && (cd "$REPO" && go build -o "$TMP/gretun" ./examples/gretun) >"$TMP/gretun-build.log" 2>&1; then
	GRETUN_BIN=$TMP/gretun
else
	log "gretun did not build:"; cat "$TMP/gretun-build.log" >&2
fi

# ---- namespaces ---------------------------------------------------------

log "namespaces $NSA and $NSB"
ip netns add "$NSA"
ip netns add "$NSB"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip link add "$VA" netns "$NSA" mtu 1500 type veth peer name "$VB" netns "$NSB" mtu 1500
ip -n "$NSA" addr add $A4/24 dev "$VA"
ip -n "$NSB" addr add $B4/24 dev "$VB"
ip -n "$NSA" addr add 2001:db8::1/64 dev "$VA" nodad
ip -n "$NSB" addr add 2001:db8::2/64 dev "$VB" nodad
ip -n "$NSA" link set "$VA" up
ip -n "$NSB" link set "$VB" up

# ---- rows ---------------------------------------------------------------

# Per row, set by row_up: TARGET (B's address), DEV_A (A's device, for the
# MTU), DPID_A/DPID_B (daemons, empty for veth), LOG_A/LOG_B.
TARGET= DEV_A= DPID_A= DPID_B= LOG_A= LOG_B=

# dump_logs: the daemons' output, for a failed row.
dump_logs() {
	local f
	for f in "$LOG_A" "$LOG_B" "$@"; do
		[[ -n $f && -s $f ]] || continue
		echo "---- $(basename "$f") ----" >&2
		tail -n 20 "$f" >&2
	done
}

# wait_file FILE [PID...]: up to 5 s for FILE to be non-empty while the PIDs live.
wait_ready() {
	local f=$1 i p
	shift
	for ((i = 0; i < 50; i++)); do
		for p in "$@"; do alive "$p" || { ROW_ERR="daemon pid $p exited during start"; return 1; }; done
		[[ -z $f || -e $f ]] && return 0
		sleep 0.1
	done
	ROW_ERR="not ready after 5 s (waited for $f)"
	return 1
}

wait_ping() {
	local i
	for ((i = 1; i <= 10; i++)); do
		if ip netns exec "$NSA" ping -n -q -c 1 -W 1 "$TARGET" >/dev/null 2>&1; then return 0; fi
	done
	ROW_ERR="no answer from $TARGET to 10 pings"
	return 1
}

gretun_args() { # ROW -> extra args
	case $1 in
	gre) echo "-mode gre" ;;
	gre-key-csum-seq) echo "-mode gre -key 5 -csum -seq" ;;
	ipip) echo "-mode ipip" ;;
	gre-in-udp) echo "-mode gre-in-udp -port 4754 -lport 4754" ;;
	esac
}

gretun_dev() { # ROW -> unique TUN name
	case $1 in
	gre) echo gtgre ;;
	gre-key-csum-seq) echo gtgrekcs ;;
	ipip) echo gtipip ;;
	gre-in-udp) echo gtgreudp ;;
	esac
}

row_up() {
	local row=$1 r=$2
	TARGET= DEV_A= DPID_A= DPID_B= LOG_A= LOG_B= ROW_ERR=
	case $row in
	veth)
		TARGET=$B4 DEV_A=$VA
		;;
	wireguard-go)
		[[ -n $WG_BIN ]] || { ROW_ERR="wireguard-go did not build"; return 1; }
		local wa=wga$$ wb=wgb$$ # distinct: the UAPI sockets share /var/run/wireguard
		TARGET=$IN_B DEV_A=$wa
		LOG_A=$TMP/$row-$r-a.log LOG_B=$TMP/$row-$r-b.log
		[[ -f $TMP/wg-a.key ]] || (
			umask 077
			wg genkey >"$TMP/wg-a.key"; wg genkey >"$TMP/wg-b.key"
			wg pubkey <"$TMP/wg-a.key" >"$TMP/wg-a.pub"; wg pubkey <"$TMP/wg-b.key" >"$TMP/wg-b.pub"
		)
		start_in "$NSA" "$LOG_A" env WG_PROCESS_FOREGROUND=1 "$WG_BIN" "$wa"; DPID_A=$LASTPID
		start_in "$NSB" "$LOG_B" env WG_PROCESS_FOREGROUND=1 "$WG_BIN" "$wb"; DPID_B=$LASTPID
		wait_ready "/var/run/wireguard/$wa.sock" "$DPID_A" "$DPID_B" || return 1
		wait_ready "/var/run/wireguard/$wb.sock" "$DPID_A" "$DPID_B" || return 1
		ip netns exec "$NSA" wg set "$wa" listen-port 51820 private-key "$TMP/wg-a.key" \
			peer "$(cat "$TMP/wg-b.pub")" endpoint $B4:51820 allowed-ips $IN_B/32 2>>"$LOG_A" &&
			ip netns exec "$NSB" wg set "$wb" listen-port 51820 private-key "$TMP/wg-b.key" \
				peer "$(cat "$TMP/wg-a.pub")" endpoint $A4:51820 allowed-ips $IN_A/32 2>>"$LOG_B" &&
			ip -n "$NSA" addr add $IN_A/30 dev "$wa" 2>>"$LOG_A" &&
			ip -n "$NSB" addr add $IN_B/30 dev "$wb" 2>>"$LOG_B" &&
			ip -n "$NSA" link set "$wa" up 2>>"$LOG_A" &&
			ip -n "$NSB" link set "$wb" up 2>>"$LOG_B" ||
			{ ROW_ERR="wg set / ip failed"; return 1; }
		;;
	*)
		[[ -n $GRETUN_BIN ]] || { ROW_ERR="gretun did not build (see above)"; return 1; }
		local dev extra
		dev=$(gretun_dev "$row")
		read -r -a extra <<<"$(gretun_args "$row")"
		TARGET=$IN_B DEV_A=$dev
		LOG_A=$TMP/$row-$r-a.log LOG_B=$TMP/$row-$r-b.log
		start_in "$NSA" "$LOG_A" "$GRETUN_BIN" -name "$dev" "${extra[@]}" -local $A4 -remote $B4 -addr $IN_A/30
		DPID_A=$LASTPID
		start_in "$NSB" "$LOG_B" "$GRETUN_BIN" -name "$dev" "${extra[@]}" -local $B4 -remote $A4 -addr $IN_B/30
		DPID_B=$LASTPID
		# gretun prints its one start line once the tunnel is set up
		local i
		for ((i = 0; i < 50; i++)); do
			alive "$DPID_A" || { ROW_ERR="gretun in A exited during start"; return 1; }
			alive "$DPID_B" || { ROW_ERR="gretun in B exited during start"; return 1; }
			[[ -s $LOG_A && -s $LOG_B ]] && ip -n "$NSA" link show "$dev" >/dev/null 2>&1 &&
				ip -n "$NSB" link show "$dev" >/dev/null 2>&1 && break
			sleep 0.1
		done
		((i < 50)) || { ROW_ERR="gretun not up after 5 s"; return 1; }
		;;
	esac
	wait_ping
}

row_down() {
	local p side
	for side in A B; do
		if [[ $side == A ]]; then p=$DPID_A; else p=$DPID_B; fi
		[[ -n $p ]] || continue
		local was=0
		alive "$p" && was=1
		stop "$p"
		# gretun and wireguard-go exit 0 on SIGTERM; anything else is worth saying
		if ((was && STOP_RC != 0)); then
			log "note: $CUR_ROW daemon in $side exited with status $STOP_RC on SIGTERM"
		fi
	done
	DPID_A= DPID_B=
}

# iperf_run OUT ARGS...: one iperf3 server (-1) in B, one client in A.
iperf_run() {
	local out=$1 srv cli i rc=0
	shift
	start_in "$NSB" "$out.srv" iperf3 -s -1 -p $PORT
	srv=$LASTPID
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$NSB" ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && break
		alive "$srv" || break
		sleep 0.1
	done
	# in the background and waited for, so that a signal to this script is handled at once
	timeout -k 5 $((DUR + 30)) ip netns exec "$NSA" iperf3 -c "$TARGET" -p $PORT -t "$DUR" -J "$@" >"$out" 2>"$out.err" </dev/null &
	cli=$!
	PIDS+=("$cli")
	wait "$cli" || rc=$?
	untrack "$cli"
	stop "$srv"
	if ((rc == 0)) && jq -e 'has("error")' "$out" >/dev/null 2>&1; then rc=1; fi
	if ((rc != 0)); then
		ROW_ERR="iperf3 $* failed (status $rc): $(jq -r '.error // empty' "$out" 2>/dev/null) $(head -c 300 "$out.err")"
		tail -n 5 "$out.srv" >&2 || true
	fi
	return "$rc"
}

declare -A GBPS RETR CPUA CPUB KPPS ULEN FAILED

tcp_round() {
	local row=$1 r=$2 out=$TMP/$row-$r-tcp.json t0 t1 a0 a1 b0 b1 sa0=0 sa1 ksh=-
	a0=0 b0=0
	[[ -n $DPID_A ]] && a0=$(cputicks "$DPID_A") && sa0=$(systicks "$DPID_A")
	[[ -n $DPID_B ]] && b0=$(cputicks "$DPID_B")
	t0=$(date +%s.%N)
	iperf_run "$out" || return 1
	t1=$(date +%s.%N)
	[[ -n $DPID_A ]] && a1=$(cputicks "$DPID_A") && CPUA[$row,$r]=$(awk -v d=$((a1 - a0)) -v hz="$HZ" -v t0="$t0" -v t1="$t1" 'BEGIN{printf "%.2f", d/hz/(t1-t0)}')
	# the sending daemon's share of CPU time spent in the kernel (stime / utime+stime)
	[[ -n $DPID_A ]] && sa1=$(systicks "$DPID_A") && ksh=$(awk -v s=$((sa1 - sa0)) -v d=$((a1 - a0)) 'BEGIN{if (d > 0) printf "%d%%", 100*s/d; else print "-"}')
	[[ -n $DPID_B ]] && b1=$(cputicks "$DPID_B") && CPUB[$row,$r]=$(awk -v d=$((b1 - b0)) -v hz="$HZ" -v t0="$t0" -v t1="$t1" 'BEGIN{printf "%.2f", d/hz/(t1-t0)}')
	GBPS[$row,$r]=$(jq -r '.end.sum_received.bits_per_second / 1e9' "$out" | awk '{printf "%.2f", $1}')
	RETR[$row,$r]=$(jq -r '.end.sum_sent.retransmits // 0' "$out")
	log "$row round $r: ${GBPS[$row,$r]} Gbit/s, ${RETR[$row,$r]} retransmits, cores A ${CPUA[$row,$r]:--} B ${CPUB[$row,$r]:--} (A in the kernel: $ksh)"
}

udp_run() {
	local row=$1 out=$TMP/$row-udp.json mtu len
	mtu=$(ip -n "$NSA" -o link show dev "$DEV_A" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
	len=1400
	[[ -n $mtu ]] && ((mtu - 28 < len)) && len=$((mtu - 28))
	ULEN[$row]=$len
	iperf_run "$out" -u -l "$len" -b 0 || return 1
	# received datagrams per second, as the receiver counted them
	KPPS[$row]=$(jq -r '(.end.sum.packets - .end.sum.lost_packets) / .end.sum.seconds / 1000' "$out" | awk '{printf "%.1f", $1}')
	log "$row UDP -l $len: ${KPPS[$row]} kpps received ($(jq -r '.end.sum.lost_percent' "$out" | awk '{printf "%.1f", $1}')% lost)"
}

median() { # values... (numbers) -> median with 2 decimals
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{ if (NR==0) exit; if (NR%2) m=v[(NR+1)/2]; else m=(v[NR/2]+v[NR/2+1])/2; printf "%.2f", m }'
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "rows: ${ROWS[*]}; $ROUNDS round(s) of $DUR s"
for ((r = 1; r <= ROUNDS; r++)); do
	for row in "${ROWS[@]}"; do
		[[ -n ${FAILED[$row]:-} ]] && continue
		CUR_ROW=$row
		ok=1
		if ! row_up "$row" "$r"; then
			ok=0
		elif ! tcp_round "$row" "$r"; then
			ok=0
		elif ((r == 1)) && ! udp_run "$row"; then
			ok=0
		fi
		if ((!ok)); then
			FAILED[$row]="round $r: $ROW_ERR"
			log "$row FAILED (round $r): $ROW_ERR"
			dump_logs
		fi
		row_down
	done
done

# ---- report -------------------------------------------------------------

declare -A MED
for row in "${ROWS[@]}"; do
	vals=()
	for ((r = 1; r <= ROUNDS; r++)); do [[ -n ${GBPS[$row,$r]:-} ]] && vals+=("${GBPS[$row,$r]}"); done
	[[ -z ${FAILED[$row]:-} && ${#vals[@]} -gt 0 ]] && MED[$row]=$(median "${vals[@]}")
done

echo
echo "gretun throughput: iperf3 TCP $DUR s x $ROUNDS round(s), A -> B over a veth pair (MTU 1500); $(nproc) cores, $(uname -r)"
echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cores = daemon CPU seconds / wall seconds over the TCP run (median of rounds); kpps = UDP datagrams received per second"
printf '%-17s %-22s %8s %8s %7s %7s %9s\n' row "Gbit/s per round" median retrans cpu-A cpu-B "UDP kpps"
for row in "${ROWS[@]}"; do
	rounds=() rt=() ca=() cb=()
	for ((r = 1; r <= ROUNDS; r++)); do
		rounds+=("${GBPS[$row,$r]:-failed}")
		[[ -n ${RETR[$row,$r]:-} ]] && rt+=("${RETR[$row,$r]}")
		[[ -n ${CPUA[$row,$r]:-} ]] && ca+=("${CPUA[$row,$r]}")
		[[ -n ${CPUB[$row,$r]:-} ]] && cb+=("${CPUB[$row,$r]}")
	done
	retr=- cpua=- cpub=- kpps=${KPPS[$row]:--}
	((${#rt[@]})) && retr=$(median "${rt[@]}" | awk '{printf "%d", $1}')
	((${#ca[@]})) && cpua=$(median "${ca[@]}")
	((${#cb[@]})) && cpub=$(median "${cb[@]}")
	[[ -n ${ULEN[$row]:-} && $kpps != - ]] && kpps="$kpps/${ULEN[$row]}B"
	printf '%-17s %-22s %8s %8s %7s %7s %9s\n' "$row" "${rounds[*]}" "${MED[$row]:-failed}" "$retr" "$cpua" "$cpub" "$kpps"
done
status=0
for row in "${ROWS[@]}"; do
	[[ -n ${FAILED[$row]:-} ]] && { echo "  $row failed: ${FAILED[$row]}"; status=1; }
done
echo
wg=${MED[wireguard-go]:-}
for row in "${ROWS[@]}"; do
	if [[ -z ${MED[$row]:-} ]]; then
		echo "$row failed"
	elif [[ -n $wg ]] && awk -v w="$wg" 'BEGIN{exit !(w > 0)}'; then
		echo "$row ${MED[$row]} $(awk -v m="${MED[$row]}" -v w="$wg" 'BEGIN{printf "%.2f", m/w}')x"
	else
		echo "$row ${MED[$row]} n/a"
	fi
done
exit "$status"
