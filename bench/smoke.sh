#!/usr/bin/env bash
# A short run of the load generator, so it cannot rot: a few hundred clients for a few seconds
# against a fresh Hearth (its own protocol) and against the Node Socket.IO peer (the Socket.IO
# adapter), failing on any lost or duplicated delivery; then the review benchmark over 20,000
# messages, failing if a search is refused or an export misses a message; then the suite's persist
# and two-node big-room scenarios, tiny, with Hearth on PostgreSQL (two nodes sharing a database
# there and a redis-server of the generator's own), failing if one fails or loses a message.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${HEARTH_SMOKE_PORT:-3102}
peer_port=$((port + 1))
dir=$(mktemp -d)
# The load signs up hundreds of accounts from one address and posts at machine speed: the abuse
# limits are off here, as in the suite (bench/src/suite.rs, HEARTH_LIMITS_OFF).
limits_off=(--sign-ups-per-hour 0 --message-burst 0 --room-changes-per-hour 0 --sign-in-failures-per-address 0)
./target/release/hearth --addr "127.0.0.1:$port" --database-url "sqlite://$dir/hearth.db" "${limits_off[@]}" \
  >"$dir/server.log" 2>&1 &
server=$!
node bench/peers/node/server.js --port "$peer_port" >"$dir/peer.log" 2>&1 &
peer=$!
trap 'kill $server $peer 2>/dev/null || true; wait $server $peer 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/login" >/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do grep -q listening "$dir/peer.log" && break; sleep 0.1; done
load=(--rooms 2 --members 150 --publishers 2 --rate 50,200 --seconds 2 --strict)
./target/release/hearth-load run --server "http://127.0.0.1:$port" --server-pid "$server" "${load[@]}"
./target/release/hearth-load run --protocol socketio --server "http://127.0.0.1:$peer_port" --server-pid "$peer" "${load[@]}"
./target/release/hearth-load review --messages 20000 --keep "$dir/review" --out "$dir/review-out" \
  --port $((port + 2))
# Hearth on PostgreSQL (the machine's, which `make postgres` starts): the suite's persist scenario,
# tiny (50 publishers for 2 s), on a database made from a template of its accounts there; then its
# two-node big room, tiny (50 members split over two nodes on ports +3 and +4, sharing a database
# made the same way and a private redis-server; the first two publish rates, 2 s each).
command -v redis-server >/dev/null || { echo "smoke.sh: redis-server not on PATH" >&2; exit 1; }
./target/release/hearth-load suite --servers hearth --only persist,two-node-big-room --scale 0.05 \
  --seconds 2 --max-steps 2 --strict \
  --hearth-postgres "${HEARTH_SMOKE_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}" \
  --port $((port + 3)) --accounts "$dir/pg-accounts" --out "$dir/pg-out"
