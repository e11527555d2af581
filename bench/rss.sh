#!/usr/bin/env bash
# bench/rss.sh — peak memory of the running relay on big messages.
#
# Makes one message of $SIZE bytes with mixed attachments (PDF, XLSX, DOCX,
# CSV, ZIP from bench/mix/gen.sh, `mixload big`), starts `dlpguard serve`
# (built from this tree) relaying into smtp-sink, and for each N in
# $PARALLEL sends N copies at once (N sessions), waits until every copy has
# reached the sink, and reads the process's peak resident set (VmHWM in
# /proc/PID/status: everything the process touched, not only the Go heap).
# A fresh server per N, so each peak is that load's own. Goal: under 100 MB
# for one message; ten at once bounded by inspect.concurrency.
#
# Needs: smtp-sink (Debian package postfix), go, and what bench/mix/gen.sh
# needs the first time. Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail

SIZE=${SIZE:-25000000}          # bytes of the message (max_message_size is 25 MiB)
PARALLEL=${PARALLEL:-1 10}      # messages sent at once, one server run each
CONCURRENCY=${CONCURRENCY:-}    # inspect.concurrency; empty: the default
# DLPGUARD_BIN: use this binary instead of building one from the tree.
BASE=${BASE_PORT:-$((30000 + RANDOM % 20000))}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/bench/out/rss-$(date -u +%Y%m%dT%H%M%SZ)}
MIX_DIR=${MIX_DIR:-$ROOT/bench/out/mix-300}
mkdir -p "$OUT/big"
die() { echo "rss.sh: $*" >&2; exit 1; }
[ -x /usr/sbin/smtp-sink ] || die "/usr/sbin/smtp-sink missing: apt-get install -y postfix"

SINK_PID= DLP_PID=
cleanup() {
	set +e
	[ -n "$DLP_PID" ] && kill -TERM "$DLP_PID" 2>/dev/null && wait "$DLP_PID" 2>/dev/null
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
}
trap cleanup EXIT
wait_port() { for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

if [ -n "${DLPGUARD_BIN:-}" ]; then # e.g. an earlier build, for before/after
	cp "$DLPGUARD_BIN" "$OUT/dlpguard"
else
	(cd "$ROOT" && go build -o "$OUT/dlpguard" ./cmd/dlpguard)
fi
(cd "$ROOT" && go build -o "$OUT/mixload" ./bench/mixload)
if [ ! -d "$MIX_DIR/files" ]; then
	"$ROOT/bench/mix/gen.sh" "$MIX_DIR.tmp" 300 && rm -rf "$MIX_DIR" && mv "$MIX_DIR.tmp" "$MIX_DIR"
fi
"$OUT/mixload" big -files "$MIX_DIR/files" -out "$OUT/big/big.eml" -size "$SIZE"

SINK_USER=()
[ "$(id -u)" = 0 ] && SINK_USER=(-u nobody)
sink_count() { tr '\r' '\n' <"$OUT/sink.out" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1 | sed 's/^$/0/'; }
/usr/sbin/smtp-sink "${SINK_USER[@]}" -c "127.0.0.1:$BASE" 64 >"$OUT/sink.out" 2>&1 &
SINK_PID=$!
wait_port "$BASE" || die "smtp-sink did not start"

printf '%-9s %-12s %-10s %s\n' parallel concurrency "VmHWM MB" "seconds"
for n in $PARALLEL; do
	rm -rf "$OUT/data"
	{
		echo "hostname: bench.localdomain"
		echo "data_dir: $OUT/data"
		echo "smtp: {listen: [\"127.0.0.1:$((BASE + 1))\"], networks: [127.0.0.0/8]}"
		echo "upstream: {address: \"127.0.0.1:$BASE\", starttls: none}"
		echo "http: {listen: \"127.0.0.1:$((BASE + 2))\"}"
		[ -z "$CONCURRENCY" ] || echo "inspect: {concurrency: $CONCURRENCY}"
	} >"$OUT/dlpguard.yaml"
	"$OUT/dlpguard" serve --config "$OUT/dlpguard.yaml" 2>"$OUT/dlpguard-$n.log" &
	DLP_PID=$!
	wait_port $((BASE + 1)) || die "dlpguard did not start: $(tail -3 "$OUT/dlpguard-$n.log")"
	before=$(sink_count) start=$(date +%s.%N)
	"$OUT/mixload" send -addr "127.0.0.1:$((BASE + 1))" -corpus "$OUT/big" -s "$n" -m "$n" >"$OUT/send-$n.out" ||
		die "send failed: $(cat "$OUT/send-$n.out")"
	while [ "$(sink_count)" -lt $((before + n)) ]; do sleep 0.1; done
	secs=$(echo "$(date +%s.%N) - $start" | bc)
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$DLP_PID/status")
	printf '%-9s %-12s %-10s %.1f\n' "$n" "${CONCURRENCY:-default}" "$((hwm / 1024))" "$secs"
	kill -TERM "$DLP_PID"; wait "$DLP_PID" || true; DLP_PID=
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); logs: $OUT"
