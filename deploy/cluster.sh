#!/usr/bin/env bash
# `make cluster`: Hearth nodes behind nginx on http://127.0.0.1:3000, in the foreground, until
# Ctrl-C (or `make cluster-stop` from another terminal) stops them all. make has already
# built the release and checked PostgreSQL, Redis and nginx.
#
#   deploy/cluster.sh [options]          start, and wait
#   deploy/cluster.sh [--state DIR] stop stop a cluster started from another terminal
#
#   --env-dir DIR      the node files and nginx's configuration (default deploy/cluster)
#   --proxy ADDR       the address nginx listens on, as DIR/nginx.conf says (127.0.0.1:3000)
#   --state DIR        pid file, nginx's logs and temporary files (default target/cluster)
#   --fresh-database   drop the database and create it again, instead of keeping it
#   --redis            start a redis-server of its own on HEARTH_REDIS_URL's address (keeping
#                      nothing on disk), stopped with the rest, instead of using one running
#
# Paths are relative to the repository, where the script runs.
#
# Each node is deploy/hearth@.service run by deploy/run-unit.sh with DIR/hearth.env (shared)
# and DIR/N.env (one per node: 1.env, 2.env; add 3.env, and its line in deploy/nginx/hearth.conf,
# for a third). nginx runs DIR/nginx.conf with everything it writes under STATE/nginx/. The
# nodes' database (DATABASE_URL in hearth.env) is created when missing and kept between runs:
# `dropdb -h 127.0.0.1 -U postgres hearth_cluster` starts afresh. HEARTH_BIN overrides the binary
# (default target/release/hearth). The browser tests run a second cluster beside this one with
# `--env-dir end2end/cluster --proxy 127.0.0.1:3200 --state target/e2e-cluster --fresh-database
# --redis` (end2end/playwright.cluster.config.ts).

set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
env_dir=deploy/cluster
proxy=127.0.0.1:3000
state=target/cluster
fresh_database=0
own_redis=0
action=start
usage="usage: deploy/cluster.sh [--env-dir DIR] [--proxy ADDR] [--state DIR] [--fresh-database] [--redis] [stop]"
while (($#)); do
    case "$1" in
    --env-dir) env_dir="${2:?--env-dir needs a folder}"; shift 2 ;;
    --proxy) proxy="${2:?--proxy needs HOST:PORT}"; shift 2 ;;
    --state) state="${2:?--state needs a folder}"; shift 2 ;;
    --fresh-database) fresh_database=1; shift ;;
    --redis) own_redis=1; shift ;;
    stop) action=stop; shift ;;
    *) echo "$usage" >&2; exit 1 ;;
    esac
done
env_dir=${env_dir%/}
state=$(realpath -m "$state")
pid_file=$state/pids
hearth_bin=${HEARTH_BIN:-$root/target/release/hearth}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
# How to stop this cluster from another terminal.
if [[ $state == "$root/target/cluster" ]]; then
    stop_hint="make cluster-stop"
else
    stop_hint="deploy/cluster.sh --state ${state#"$root/"} stop"
fi

say() { echo "cluster: $*" >&2; }
die() {
    say "$*"
    exit 1
}

# A process's start time (in clock ticks since boot), so that a pid the system has since given
# to another process is not taken for ours.
started() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

# The processes in the pid file (this script, the nodes, nginx, its redis-server) that are still
# running; with an argument, only those it names: `ours redis`, `ours -redis` (all but redis).
ours() {
    local pid start name
    [[ -r $pid_file ]] || return 0
    while read -r pid start name; do
        case "${1:-}" in
        -*) [[ $name != "${1#-}" ]] || continue ;;
        ?*) [[ $name == "$1" ]] || continue ;;
        esac
        if [[ $(started "$pid") == "$start" ]]; then echo "$pid"; fi
    done <"$pid_file"
}

stop_pids() {
    local pid alive
    (($#)) || return 0
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 100); do
        alive=()
        for pid in "$@"; do
            if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); fi
        done
        ((${#alive[@]})) || return 0
        sleep 0.1
    done
    say "still running after 10 s, killing: ${alive[*]}"
    kill -KILL "${alive[@]}" 2>/dev/null || true
}

if [[ $action == stop ]]; then
    mapfile -t pids < <(ours)
    if ((${#pids[@]} == 0)); then
        say "no cluster is running"
        exit 0
    fi
    # Redis last: a stopping node takes its users out of it.
    mapfile -t pids < <(ours -redis)
    stop_pids "${pids[@]}"
    mapfile -t pids < <(ours redis)
    stop_pids "${pids[@]}"
    rm -f "$pid_file"
    say "stopped"
    exit 0
fi

# Refuse to start twice, or on ports something else holds.
if [[ -n $(ours) ]]; then die "a cluster is already running ($stop_hint)"; fi
listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

[[ -r $env_dir/hearth.env && -r $env_dir/nginx.conf ]] || die "no $env_dir/hearth.env and $env_dir/nginx.conf"
mapfile -t nodes < <(cd "$env_dir" && ls [0-9]*.env 2>/dev/null | sed 's/\.env$//' | sort -n)
((${#nodes[@]})) || die "no node files ($env_dir/N.env)"
declare -A node_addr=()
for node in "${nodes[@]}"; do
    node_addr[$node]=$(sed -n 's/^HEARTH_ADDR=//p' "$env_dir/$node.env")
    [[ -n ${node_addr[$node]} ]] || die "$env_dir/$node.env has no HEARTH_ADDR"
done
# With --redis, the address in HEARTH_REDIS_URL is this cluster's own redis-server.
redis_addr=""
if ((own_redis)); then
    redis_url=$(sed -n 's/^HEARTH_REDIS_URL=//p' "$env_dir/hearth.env")
    [[ $redis_url =~ ^redis://([0-9.]+):([0-9]+)/?$ ]] \
        || die "--redis: HEARTH_REDIS_URL in $env_dir/hearth.env must be redis://ADDRESS:PORT"
    redis_addr=${BASH_REMATCH[1]}:${BASH_REMATCH[2]}
    command -v redis-server >/dev/null || die "--redis: no redis-server"
fi
for addr in "$proxy" "${node_addr[@]}" $redis_addr; do
    if listening "$addr"; then die "$addr is already in use (ss -ltnp | grep ${addr##*:})"; fi
done
[[ -x $hearth_bin ]] || die "no $hearth_bin (make build)"
[[ -x $nginx_bin ]] || die "no nginx (make nginx)"

# The database named in hearth.env, created on its server when missing (with
# --fresh-database, dropped first).
database_url=$(sed -n 's/^DATABASE_URL=//p' "$env_dir/hearth.env")
[[ $database_url == postgres://*/* ]] || die "$env_dir/hearth.env: DATABASE_URL must be postgres://…/DATABASE"
database=${database_url##*/}
database=${database%%\?*}
[[ $database =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name '$database': lowercase letters, digits and _ only"
if ((fresh_database)); then
    say "dropping database $database"
    psql "${database_url%/*}/postgres" -Xq -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $database WITH (FORCE)"
fi
if ! psql "${database_url%/*}/postgres" -XtAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -qx 1; then
    say "creating database $database"
    psql "${database_url%/*}/postgres" -Xqc "CREATE DATABASE $database"
fi

mkdir -p "$state/nginx/logs" "$state/nginx/temp"
nginx_conf=$(realpath "$env_dir/nginx.conf")
"$nginx_bin" -q -t -c "$nginx_conf" -p "$state/nginx/" || die "nginx refuses $env_dir/nginx.conf"

pids=()
declare -A names=()
echo "$$ $(started $$) runner" >"$pid_file"

cleanup() {
    trap - EXIT INT TERM HUP
    local alive=() redis=()
    for pid in "${pids[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then continue; fi
        # Redis last: a stopping node takes its users out of it.
        if [[ ${names[$pid]} == redis ]]; then redis+=("$pid"); else alive+=("$pid"); fi
    done
    if ((${#alive[@]} + ${#redis[@]})); then
        say "stopping"
        stop_pids "${alive[@]}"
        stop_pids "${redis[@]}"
    fi
    rm -f "$pid_file"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Starts a process in the background, its output prefixed with its name. In a session of its
# own: Ctrl-C reaches this script alone, which then stops the processes one by one. The prefixer
# ignores INT and TERM (a signal to this script's process group), to pass on what the process
# says while it stops; it ends with the process's output.
start() {
    local name=$1
    shift
    setsid "$@" > >(trap '' INT TERM && exec sed -u "s/^/[$name] /") 2>&1 &
    pids+=("$!")
    names[$!]=$name
    echo "$! $(started $!) $name" >>"$pid_file"
}

# Waits until `check` (the remaining arguments) succeeds, while the process is running.
wait_until() {
    local name=$1 pid=$2
    shift 2
    for _ in $(seq 600); do
        if "$@"; then return 0; fi
        kill -0 "$pid" 2>/dev/null || die "$name exited before it was ready"
        sleep 0.1
    done
    die "$name is not ready after 60 s ($*)"
}
wait_ready() { wait_until "$1" "$3" curl -fs -o /dev/null --max-time 2 "$2"; }
redis_answers() { [[ $(redis-cli -h "${redis_addr%:*}" -p "${redis_addr##*:}" ping 2>/dev/null) == PONG ]]; }

if [[ -n $redis_addr ]]; then
    mkdir -p "$state/redis"
    start redis redis-server --bind "${redis_addr%:*}" --port "${redis_addr##*:}" \
        --save "" --appendonly no --dir "$state/redis" --loglevel warning
    wait_until redis "${pids[-1]}" redis_answers
fi

# One node after the other: the first one makes the tables.
for node in "${nodes[@]}"; do
    start "node $node" deploy/run-unit.sh --env-dir "$env_dir" --exec "$hearth_bin" \
        ${RUST_LOG:+--setenv "RUST_LOG=$RUST_LOG"} deploy/hearth@.service "$node"
    wait_ready "node $node" "http://${node_addr[$node]}/readyz" "${pids[-1]}"
done
start nginx "$nginx_bin" -c "$nginx_conf" -p "$state/nginx/"
wait_ready nginx "http://$proxy/readyz" "${pids[-1]}"

addrs=()
for node in "${nodes[@]}"; do addrs+=("${node_addr[$node]}"); done
say "Hearth on http://$proxy (nginx), nodes ${addrs[*]}"
say "Ctrl-C (or $stop_hint) stops them all"

# Until nginx ends, or the last node (a node may be stopped to watch the other take over:
# `kill <pid>`, pids in STATE/pids), or a signal ends this script. An own redis-server that
# ends is only reported: the nodes carry on without the bus.
set +e
while true; do
    wait -n -p ended "${pids[@]}"
    status=$?
    say "${names[$ended]} exited (status $status)"
    left=()
    for pid in "${pids[@]}"; do
        if [[ $pid != "$ended" ]]; then left+=("$pid"); fi
    done
    pids=("${left[@]}")
    [[ ${names[$ended]} != redis ]] || continue
    [[ ${names[$ended]} != nginx ]] || exit 1
    nodes_left=0
    for pid in "${pids[@]}"; do
        if [[ ${names[$pid]} == node* ]]; then nodes_left=$((nodes_left + 1)); fi
    done
    ((nodes_left)) || exit 1
    say "$nodes_left node(s) left"
done
