#!/usr/bin/env bash
# bench/relay.sh — relay throughput and latency, dlpguard against Postfix.
#
# Two loads, each sent once through dlpguard (built from this tree, `serve`
# with a temporary configuration) and once through a Postfix configured as
# a plain relayhost, both relaying into the same smtp-sink; both answer 250
# only after fsync:
#   plain  Postfix's smtp-source: one synthetic message of $SIZE bytes;
#   mix    real outbound mail of a city (bench/mix/gen.sh: Japanese bodies,
#          replies, PDF/DOCX/XLSX/CSV/ZIP made by LibreOffice and zip, 20 KB
#          to 1.5 MB, mostly small), sent by bench/mixload.
# Prints messages/s, latency and the ratio dlpguard/Postfix per load and
# round, and the medians over the rounds. Everything listens on 127.0.0.1
# only, and everything the script starts is stopped on exit.
#
# Needs: root (Postfix), Debian package postfix (smtp-source, smtp-sink,
# postfix), go; for mix also soffice (libreoffice-writer-nogui,
# libreoffice-calc-nogui) and zip. See bench/README.md for the variables.
set -euo pipefail

SESSIONS=${SESSIONS:-20}         # smtp-source -s
MESSAGES=${MESSAGES:-5000}       # smtp-source -m
SIZE=${SIZE:-20480}              # smtp-source -l (bytes)
ROUNDS=${ROUNDS:-1}              # each round runs dlpguard, then Postfix
WORKERS=${WORKERS:-8}            # dlpguard upstream.workers
SKIP_POSTFIX=${SKIP_POSTFIX:-0}  # 1: measure dlpguard only
TIMEOUT=${TIMEOUT:-600}          # seconds a phase may take before giving up
LOADS=${LOADS:-plain mix}         # which loads, in this order
MIX_MESSAGES=${MIX_MESSAGES:-300} # distinct messages of the mix corpus
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

# run_load NAME PORT LOAD: sends LOAD (plain: smtp-source, mix: mixload)
# to PORT and waits for the sink. Sets ACCEPT_S (the sender's wall time:
# every message got its 250) and RELAY_S (start to last message at the sink).
run_load() {
	local before start end
	before=$(sink_count)
	start=$(now)
	if [ "$3" = plain ]; then
		"$SBIN/smtp-source" -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f "$FROM" -t "$TO" \
			-M bench.localdomain "127.0.0.1:$2" >"$OUT/source-$1.out" 2>&1 ||
			die "smtp-source against $1 failed: $(tail -3 "$OUT/source-$1.out")"
	else
		"$OUT/mixload" send -addr "127.0.0.1:$2" -corpus "$MIX_DIR/eml" -s "$SESSIONS" \
			-m "$MESSAGES" -f "$FROM" -t "$TO" -M bench.localdomain >"$OUT/source-$1.out" 2>&1 ||
			die "mixload against $1 failed: $(tail -3 "$OUT/source-$1.out")"
	fi
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
case " $LOADS " in *" mix "*)
	(cd "$ROOT" && go build -o "$OUT/mixload" ./bench/mixload)
	# The corpus is made once and kept (MIX_DIR, ignored by git).
	MIX_DIR=${MIX_DIR:-$ROOT/bench/out/mix-$MIX_MESSAGES}
	if [ ! -d "$MIX_DIR/eml" ]; then
		echo "making the mix corpus in $MIX_DIR (bench/mix/gen.sh)" >&2
		"$ROOT/bench/mix/gen.sh" "$MIX_DIR.tmp" "$MIX_MESSAGES" && rm -rf "$MIX_DIR" && mv "$MIX_DIR.tmp" "$MIX_DIR"
	fi
	;;
esac

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
# stop_dlpguard NAME: records the server's CPU time (user+system, seconds)
# and peak RSS (VmHWM, kB) in $OUT/proc-NAME: CPU per message does not
# depend on what else the machine runs, as msg/s does.
stop_dlpguard() {
	awk '{ print "cpu_s", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/$DLP_PID/stat" >"$OUT/proc-$1"
	awk '/^VmHWM/ { print "vmhwm_kb", $2 }' "/proc/$DLP_PID/status" >>"$OUT/proc-$1"
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

echo "loads: $LOADS; $MESSAGES messages over $SESSIONS sessions; upstream smtp-sink 127.0.0.1:$SINK_PORT; rounds $ROUNDS" >&2
[ "$SKIP_POSTFIX" = 1 ] || start_postfix

pf_lines() { if [ -f "$PF_LOG" ]; then wc -l <"$PF_LOG"; else echo 0; fi; }
rate() { echo "scale=1; $MESSAGES / $1" | bc; }
# Little's law: mean time a client waits for one message (connect to 250).
submit_ms() { echo "scale=1; $1 * $SESSIONS * 1000 / $MESSAGES" | bc; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
: >"$OUT/rounds.tsv"
for round in $(seq 1 "$ROUNDS"); do
	for load in $LOADS; do
		start_dlpguard "$load-$round"
		run_load "dlpguard-$load-$round" "$DLP_PORT" "$load"
		stop_dlpguard "$load-$round"
		d_acc=$ACCEPT_S d_rel=$RELAY_S
		printf 'round %d %-5s dlpguard: %7.1f msg/s relayed (accepted in %.2fs, relayed in %.2fs), load average %s\n' \
			"$round" "$load" "$(rate "$d_rel")" "$d_acc" "$d_rel" "$(cut -d' ' -f1 /proc/loadavg)"
		if [ "$SKIP_POSTFIX" != 1 ]; then
			first=$(pf_lines)
			run_load "postfix-$load-$round" "$PF_PORT" "$load"
			sleep 1 # postlogd writes the last lines
			tail -n +$((first + 1)) "$PF_LOG" >"$OUT/postfix-$load-$round.log"
			printf 'round %d %-5s postfix:  %7.1f msg/s relayed (accepted in %.2fs, relayed in %.2fs), load average %s\n' \
				"$round" "$load" "$(rate "$RELAY_S")" "$ACCEPT_S" "$RELAY_S" "$(cut -d' ' -f1 /proc/loadavg)"
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$load" "$round" "$d_acc" "$d_rel" "$ACCEPT_S" "$RELAY_S" \
				"$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/rounds.tsv"
		else
			printf '%s\t%s\t%s\t%s\t\t\t%s\n' "$load" "$round" "$d_acc" "$d_rel" "$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/rounds.tsv"
		fi
	done
done

# col LOAD N: the values of column N of rounds.tsv for LOAD.
col() { awk -F'\t' -v l="$1" -v c="$2" '$1 == l && $c != "" { print $c }' "$OUT/rounds.tsv"; }
echo
echo "== $MESSAGES messages per load and round over $SESSIONS sessions, $ROUNDS round(s), medians (250 only after fsync) =="
echo "machine: $(nproc) cores,$(uptime | sed 's/.*load average/ load average/')"
for load in $LOADS; do
	case $load in
	plain) echo "-- plain: smtp-source -l $SIZE" ;;
	mix) echo "-- mix: bench/mixload, corpus $MIX_DIR/eml" ;;
	esac
	printf '%-9s %12s %12s %14s  %s\n' relay "accept msg/s" "relay msg/s" "submit ms/msg" "latency arrival→upstream 250"
	d_acc=$(col "$load" 3 | median) d_rel=$(col "$load" 4 | median)
	printf '%-9s %12s %12s %14s  %s\n' dlpguard "$(rate "$d_acc")" "$(rate "$d_rel")" "$(submit_ms "$d_acc")" \
		"$(cat "$OUT"/dlpguard-"$load"-*.log | dlp_latencies /dev/stdin | stats)"
	printf '          dlpguard CPU %.2f ms/msg, peak RSS %d MB (medians of the rounds)\n' \
		"$(cat "$OUT"/proc-"$load"-* | awk '$1 == "cpu_s" { print $2 * 1000 / '"$MESSAGES"' }' | median)" \
		"$(cat "$OUT"/proc-"$load"-* | awk '$1 == "vmhwm_kb" { print int($2 / 1024) }' | median)"
	if [ "$SKIP_POSTFIX" != 1 ]; then
		p_acc=$(col "$load" 5 | median) p_rel=$(col "$load" 6 | median)
		printf '%-9s %12s %12s %14s  %s\n' postfix "$(rate "$p_acc")" "$(rate "$p_rel")" "$(submit_ms "$p_acc")" \
			"$(cat "$OUT"/postfix-"$load"-*.log | pf_latencies /dev/stdin | stats)"
		printf 'ratio dlpguard/postfix (%s): relay %.2f, accept %.2f (median of the rounds); per round relay:' "$load" \
			"$(echo "scale=4; $p_rel / $d_rel" | bc)" "$(echo "scale=4; $p_acc / $d_acc" | bc)"
		awk -F'\t' -v l="$load" '$1 == l { printf " %.2f", $6 / $4 }' "$OUT/rounds.tsv"
		echo " (goal >= 2.0)"
	fi
done
echo "logs: $OUT"
