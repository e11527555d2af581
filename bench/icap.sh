#!/bin/sh
# bench/icap.sh — uploads per second and added latency of dlpguard's ICAP
# file-transfer guard: 1 MB multipart uploads through a private Squid on
# loopback, without and with dlpguard (icap_service … bypass=0), in one run.
# Everything (ICAP service, sink server, both Squids) is started and stopped
# by bench/icapload; nothing listens beyond 127.0.0.1.
#
#   bench/icap.sh [-n uploads] [-c concurrency] [-size bytes]
# Needs: squid (apt-get install -y squid).
set -eu
cd "$(dirname "$0")/.."
if [ ! -x /usr/sbin/squid ]; then
	echo "bench/icap.sh: squid is not installed (apt-get install -y squid)" >&2
	exit 1
fi
out="bench/out/icap-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
go build -o "$out/icapload" ./bench/icapload
"$out/icapload" "$@" | tee "$out/result.txt"
