#!/usr/bin/env bash
# Held messages stored per second, hold store on SQLite vs PostgreSQL, in
# the same run (hold.BenchmarkHoldPut: 20 KB messages, 4 × GOMAXPROCS
# writers). PostgreSQL is a throwaway cluster on 127.0.0.1 (internal/pgtest:
# Debian's postgresql package), fsync on, as a production one.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench '^BenchmarkHoldPut$' -benchtime "${BENCHTIME:-3s}" -count "${COUNT:-1}" ./hold
