#!/usr/bin/env bash
# bench/relay.sh — relay throughput and latency, dlpguard against Postfix.
#
# The same load (Postfix's smtp-source) goes once through dlpguard (built
# from this tree, `serve` with a temporary configuration) and once through a
# Postfix configured as a plain relayhost; both relay into the same
# smtp-sink. Both answer 250 only after fsync. Prints messages/s, latency
# and the ratio dlpguard/Postfix. Everything listens on 127.0.0.1 only, and
# everything the script starts is stopped on exit.
#
# Needs: root (Postfix), Debian package postfix (smtp-source, smtp-sink,
# postfix), go. See bench/README.md for the variables.
set -euo pipefail

SESSIONS=${SESSIONS:-20}         # smtp-source -s
MESSAGES=${MESSAGES:-5000}       # smtp-source -m
SIZE=${SIZE:-20480}              # smtp-source -l (bytes)
ROUNDS=${ROUNDS:-1}              # each round runs dlpguard, then Postfix
WORKERS=${WORKERS:-8}            # dlpguard upstream.workers
SKIP_POSTFIX=${SKIP_POSTFIX:-0}  # 1: measure dlpguard only
TIMEOUT=${TIMEOUT:-600}          # seconds a phase may take before giving up
BASE=${BASE_PORT:-$((30000 + RANDOM % 20000))}
SINK_PORT=${SINK_PORT:-$BASE}
DLP_PORT=${DLP_PORT:-$((BASE + 1))}
DLP_HTTP_PORT=${DLP_HTTP_PORT:-$((BASE + 2))}
PF_PORT=${PF_PORT:-$((BASE + 3))}
# Postfix writes its log only below maillog_file_prefixes (/var by default).
PF_LOG=/var/log/postfix-dlpguard-bench.log
FROM=bench@city.example.lg.jp
TO=user@example.com

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
SBIN=/usr/sbin

die() { echo "relay.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
for b in smtp-source smtp-sink postfix postconf; do
	[ -x "$SBIN/$b" ] || die "$SBIN/$b missing: apt-get install -y postfix (see bench/README.md)"
done

# --- cleanup: stop only what this script started ---------------------------
SINK_PID= DLP_PID= PF_STARTED=0 PF_CONF_SAVED=0
cleanup() {
	set +e
	if [ -n "$DLP_PID" ]; then
		kill -TERM "$DLP_PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$DLP_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DLP_PID" 2>/dev/null
		wait "$DLP_PID" 2>/dev/null
	fi
	if [ "$PF_STARTED" = 1 ]; then
		postfix stop >/dev/null 2>&1
		postsuper -d ALL >/dev/null 2>&1
		mv -f "$PF_LOG" "$OUT/postfix.log" 2>/dev/null
	fi
	if [ "$PF_CONF_SAVED" = 1 ]; then
		if [ -f "$OUT/main.cf.orig" ]; then cp "$OUT/main.cf.orig" /etc/postfix/main.cf; else rm -f /etc/postfix/main.cf; fi
		cp "$OUT/master.cf.orig" /etc/postfix/master.cf
	fi
	if [ -n "$SINK_PID" ]; then
		kill "$SINK_PID" 2>/dev/null
		wait "$SINK_PID" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # host port seconds
	local i
	for i in $(seq 1 $(($3 * 10))); do
		if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$SINK_PORT" "$DLP_PORT" "$DLP_HTTP_PORT" "$PF_PORT"; do
	port_free "$p" || die "port $p is in use; set BASE_PORT"
done

# --- the upstream: one smtp-sink for both relays -----------------------------
# -c prints "sess=N quit=N mesg=N" on every change; the last mesg= is the
# number of messages received so far.
SINK_USER=()
[ "$(id -u)" = 0 ] && SINK_USER=(-u nobody) # it must drop root
"$SBIN/smtp-sink" "${SINK_USER[@]}" -c "127.0.0.1:$SINK_PORT" 1024 >"$OUT/sink.out" 2>&1 &
SINK_PID=$!
wait_port 127.0.0.1 "$SINK_PORT" 10 || die "smtp-sink did not start"
sink_count() { tr '\r' '\n' <"$OUT/sink.out" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1 | sed 's/^$/0/'; }

# wait_sink TARGET START: waits until the sink has TARGET messages; prints
# the seconds since START.
wait_sink() {
	local deadline
	deadline=$(echo "$(now) + $TIMEOUT" | bc)
	while [ "$(sink_count)" -lt "$1" ]; do
		if [ "$(echo "$(now) > $deadline" | bc)" = 1 ]; then
			die "upstream got $(sink_count) of $1 messages within ${TIMEOUT}s"
		fi
		sleep 0.05
	done
	echo "$(now) - $2" | bc
}

# --- latency summary: seconds, one per line on stdin -------------------------
stats() {
	sort -g | awk 'function rank(p,  r) { r = int(NR * p); if (r < NR * p) r++; return r < 1 ? 1 : r }
	{ v[NR] = $1; s += $1 } END {
		if (NR == 0) { print "n=0"; exit }
		p50 = v[rank(0.50)]; p95 = v[rank(0.95)]
		printf "n=%d mean=%.3fs p50=%.3fs p95=%.3fs max=%.3fs", NR, s / NR, p50, p95, v[NR] }'
}

# dlpguard logs every delivery with delay=<Go duration> (arrival to the
# upstream's 250).
dlp_latencies() {
	grep 'msg=delivered' "$1" | sed -n 's/.* delay=\([^ ]*\).*/\1/p' | awk '{
		d = $1; t = 0
		while (match(d, /^[0-9.]+(h|ms|m|s|µs|us|ns)/)) {
			tok = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
			match(tok, /^[0-9.]+/); v = substr(tok, 1, RLENGTH); u = substr(tok, RLENGTH + 1)
			t += v * (u == "h" ? 3600 : u == "m" ? 60 : u == "s" ? 1 : u == "ms" ? 1e-3 : u == "ns" ? 1e-9 : 1e-6)
		}
		print t }'
}

# Postfix logs every delivery with delay=<seconds>.
pf_latencies() {
	grep 'status=sent' "$1" | sed -n 's/.* delay=\([0-9.]*\),.*/\1/p'
}

# run_load NAME PORT: runs smtp-source against PORT and waits for the sink.
# Sets ACCEPT_S (smtp-source wall time) and RELAY_S (start to last message
# at the sink).
run_load() {
	local before start end
	before=$(sink_count)
	start=$(now)
	"$SBIN/smtp-source" -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f "$FROM" -t "$TO" \
		-M bench.localdomain "127.0.0.1:$2" >"$OUT/source-$1.out" 2>&1 ||
		die "smtp-source against $1 failed: $(tail -3 "$OUT/source-$1.out")"
	end=$(now)
	ACCEPT_S=$(echo "$end - $start" | bc)
	RELAY_S=$(wait_sink $((before + MESSAGES)) "$start")
}

# --- dlpguard ------------------------------------------------------------------
if [ -n "${DLPGUARD_BIN:-}" ]; then
	cp "$DLPGUARD_BIN" "$OUT/dlpguard"
else
	echo "building dlpguard" >&2
	(cd "$ROOT" && go build -o "$OUT/dlpguard" ./cmd/dlpguard)
fi

start_dlpguard() {
	rm -rf "$OUT/dlp-data"
	cat >"$OUT/dlpguard.yaml" <<EOF
hostname: bench.localdomain
data_dir: $OUT/dlp-data
log_level: info
smtp:
  listen: ["127.0.0.1:$DLP_PORT"]
  networks: ["127.0.0.0/8"]
  limits:
    max_connections: 1000
    max_connections_per_ip: 1000
upstream:
  address: "127.0.0.1:$SINK_PORT"
  starttls: none
  workers: $WORKERS
http:
  listen: "127.0.0.1:$DLP_HTTP_PORT"
EOF
	"$OUT/dlpguard" serve --config "$OUT/dlpguard.yaml" 2>"$OUT/dlpguard-$1.log" &
	DLP_PID=$!
	wait_port 127.0.0.1 "$DLP_PORT" 30 || die "dlpguard did not start: $(tail -5 "$OUT/dlpguard-$1.log")"
}
stop_dlpguard() {
	kill -TERM "$DLP_PID"
	wait "$DLP_PID" || true
	DLP_PID=
}

# --- Postfix as a plain relayhost (see shared/reference/postfix-notes.md) --------
start_postfix() {
	if postfix status >/dev/null 2>&1; then
		die "a Postfix is already running on this machine; not touching it (SKIP_POSTFIX=1 to skip)"
	fi
	[ -f /etc/postfix/main.cf ] && cp /etc/postfix/main.cf "$OUT/main.cf.orig"
	cp /etc/postfix/master.cf "$OUT/master.cf.orig"
	PF_CONF_SAVED=1
	cp /etc/postfix/main.cf.proto /etc/postfix/main.cf
	postconf -e "setgid_group = postdrop" "html_directory = no" "readme_directory = no" \
		"manpage_directory = /usr/share/man" "sample_directory = /usr/share/doc/postfix/examples" \
		"mailq_path = /usr/bin/mailq" "newaliases_path = /usr/bin/newaliases" "sendmail_path = /usr/sbin/sendmail" \
		"myhostname = bench.localdomain" \
		"inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" "mydestination =" "alias_maps =" \
		"alias_database =" "local_recipient_maps =" "mynetworks = 127.0.0.0/8" \
		"relayhost = [127.0.0.1]:$SINK_PORT" "maillog_file = $PF_LOG" \
		"smtpd_recipient_restrictions = permit_mynetworks, reject" "compatibility_level = 3.6"
	postconf -M -e "$PF_PORT/inet = $PF_PORT inet n - n - - smtpd"
	postconf -M -e "postlog/unix-dgram = postlog unix-dgram n - n - 1 postlogd"
	postconf -M# smtp/inet
	postfix set-permissions >/dev/null 2>&1 || true
	postsuper -d ALL >/dev/null 2>&1 || true
	rm -f "$PF_LOG"
	postfix start >/dev/null 2>&1 || die "postfix start failed (see $PF_LOG)"
	PF_STARTED=1
	wait_port 127.0.0.1 "$PF_PORT" 30 || die "postfix smtpd did not listen on $PF_PORT"
}

echo "load: smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE; upstream smtp-sink 127.0.0.1:$SINK_PORT; rounds $ROUNDS" >&2
[ "$SKIP_POSTFIX" = 1 ] || start_postfix

DLP_ACCEPT=0 DLP_RELAY=0 PF_ACCEPT=0 PF_RELAY=0
for round in $(seq 1 "$ROUNDS"); do
	start_dlpguard "$round"
	run_load "dlpguard-$round" "$DLP_PORT"
	stop_dlpguard
	DLP_ACCEPT=$(echo "$DLP_ACCEPT + $ACCEPT_S" | bc)
	DLP_RELAY=$(echo "$DLP_RELAY + $RELAY_S" | bc)
	printf 'round %d dlpguard: accepted in %.2fs, relayed in %.2fs\n' "$round" "$ACCEPT_S" "$RELAY_S"
	if [ "$SKIP_POSTFIX" != 1 ]; then
		run_load "postfix-$round" "$PF_PORT"
		PF_ACCEPT=$(echo "$PF_ACCEPT + $ACCEPT_S" | bc)
		PF_RELAY=$(echo "$PF_RELAY + $RELAY_S" | bc)
		printf 'round %d postfix:  accepted in %.2fs, relayed in %.2fs\n' "$round" "$ACCEPT_S" "$RELAY_S"
	fi
done

TOTAL=$((MESSAGES * ROUNDS))
rate() { echo "scale=1; $TOTAL / $1" | bc; }
# Little's law: mean time a client waits for one message (connect to 250).
submit_ms() { echo "scale=1; $1 * $SESSIONS * 1000 / $TOTAL" | bc; }

echo
echo "== $TOTAL messages of $SIZE bytes over $SESSIONS sessions (250 only after fsync) =="
echo "machine: $(nproc) cores,$(uptime | sed 's/.*load average/ load average/')"
printf '%-9s %12s %12s %14s  %s\n' relay "accept msg/s" "relay msg/s" "submit ms/msg" "latency arrival→upstream 250"
printf '%-9s %12s %12s %14s  %s\n' dlpguard "$(rate "$DLP_ACCEPT")" "$(rate "$DLP_RELAY")" "$(submit_ms "$DLP_ACCEPT")" \
	"$(cat "$OUT"/dlpguard-*.log | dlp_latencies /dev/stdin | stats)"
if [ "$SKIP_POSTFIX" != 1 ]; then
	printf '%-9s %12s %12s %14s  %s\n' postfix "$(rate "$PF_ACCEPT")" "$(rate "$PF_RELAY")" "$(submit_ms "$PF_ACCEPT")" \
		"$(pf_latencies "$PF_LOG" | stats)"
	echo
	printf 'ratio dlpguard/postfix: relay %.2f, accept %.2f (goal >= 1.0)\n' \
		"$(echo "scale=4; $PF_RELAY / $DLP_RELAY" | bc)" "$(echo "scale=4; $PF_ACCEPT / $DLP_ACCEPT" | bc)"
fi
echo "logs: $OUT"
