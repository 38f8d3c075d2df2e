#!/usr/bin/env bash
# A short run of the load generator against a fresh release server, so it cannot rot:
# a few hundred clients for a few seconds, failing on any lost or duplicated delivery.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${HEARTH_SMOKE_PORT:-3102}
dir=$(mktemp -d)
./target/release/hearth --addr "127.0.0.1:$port" --database-url "sqlite://$dir/hearth.db" >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/login" >/dev/null && break; sleep 0.1; done
./target/release/hearth-load run --server "http://127.0.0.1:$port" --server-pid "$server" \
  --rooms 2 --members 150 --publishers 2 --rate 50,200 --seconds 2 --strict
