#!/usr/bin/env bash
# `make cluster`: Hearth nodes behind nginx on http://127.0.0.1:3000, in the foreground, until
# Ctrl-C (or `make cluster-stop` from another terminal) stops them all. make has already
# built the release and checked PostgreSQL, Redis and nginx.
#
#   deploy/cluster.sh          start, and wait
#   deploy/cluster.sh stop     stop a cluster started from another terminal
#
# Each node is deploy/hearth@.service run by deploy/run-unit.sh with deploy/cluster/hearth.env
# (shared) and deploy/cluster/N.env (one per node: 1.env, 2.env; add 3.env, and its line in
# deploy/nginx/hearth.conf, for a third). nginx runs deploy/cluster/nginx.conf with everything
# it writes under target/cluster/nginx/. The nodes' database (DATABASE_URL in hearth.env) is
# created when missing and kept between runs: `dropdb -h 127.0.0.1 -U postgres hearth_cluster`
# starts afresh. HEARTH_BIN overrides the binary (default target/release/hearth).

set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
state=$root/target/cluster
pid_file=$state/pids
proxy=127.0.0.1:3000
hearth_bin=${HEARTH_BIN:-$root/target/release/hearth}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

say() { echo "cluster: $*" >&2; }
die() {
    say "$*"
    exit 1
}

# A process's start time (in clock ticks since boot), so that a pid the system has since given
# to another process is not taken for ours.
started() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

# The processes in the pid file (this script, the nodes, nginx) that are still running.
ours() {
    local pid start name
    [[ -r $pid_file ]] || return 0
    while read -r pid start name; do
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

if [[ ${1:-} == stop ]]; then
    mapfile -t pids < <(ours)
    if ((${#pids[@]} == 0)); then
        say "no cluster is running"
        exit 0
    fi
    stop_pids "${pids[@]}"
    rm -f "$pid_file"
    say "stopped"
    exit 0
fi
(($# == 0)) || die "usage: deploy/cluster.sh [stop]"

# Refuse to start twice, or on ports something else holds.
if [[ -n $(ours) ]]; then die "a cluster is already running (make cluster-stop)"; fi
listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

mapfile -t nodes < <(cd deploy/cluster && ls [0-9]*.env | sed 's/\.env$//' | sort -n)
((${#nodes[@]})) || die "no node files (deploy/cluster/N.env)"
declare -A node_addr=()
for node in "${nodes[@]}"; do
    node_addr[$node]=$(sed -n 's/^HEARTH_ADDR=//p' "deploy/cluster/$node.env")
    [[ -n ${node_addr[$node]} ]] || die "deploy/cluster/$node.env has no HEARTH_ADDR"
done
for addr in "$proxy" "${node_addr[@]}"; do
    if listening "$addr"; then die "$addr is already in use (ss -ltnp | grep ${addr##*:})"; fi
done
[[ -x $hearth_bin ]] || die "no $hearth_bin (make build)"
[[ -x $nginx_bin ]] || die "no nginx (make nginx)"

# The database named in hearth.env, created on its server when missing.
database_url=$(sed -n 's/^DATABASE_URL=//p' deploy/cluster/hearth.env)
[[ $database_url == postgres://*/* ]] || die "deploy/cluster/hearth.env: DATABASE_URL must be postgres://…/DATABASE"
database=${database_url##*/}
database=${database%%\?*}
[[ $database =~ ^[a-z_][a-z0-9_]*$ ]] || die "database name '$database': lowercase letters, digits and _ only"
if ! psql "${database_url%/*}/postgres" -XtAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -qx 1; then
    say "creating database $database"
    psql "${database_url%/*}/postgres" -Xqc "CREATE DATABASE $database"
fi

mkdir -p "$state/nginx/logs" "$state/nginx/temp"
"$nginx_bin" -q -t -c "$root/deploy/cluster/nginx.conf" -p "$state/nginx/" || die "nginx refuses deploy/cluster/nginx.conf"

pids=()
declare -A names=()
echo "$$ $(started $$) runner" >"$pid_file"

cleanup() {
    trap - EXIT INT TERM HUP
    local alive=()
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); fi
    done
    if ((${#alive[@]})); then
        say "stopping"
        stop_pids "${alive[@]}"
    fi
    rm -f "$pid_file"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Starts a process in the background, its output prefixed with its name. In a session of its
# own: Ctrl-C reaches this script alone, which then stops the processes one by one.
start() {
    local name=$1
    shift
    setsid "$@" > >(trap '' INT && exec sed -u "s/^/[$name] /") 2>&1 &
    pids+=("$!")
    names[$!]=$name
    echo "$! $(started $!) $name" >>"$pid_file"
}

wait_ready() {
    local name=$1 url=$2 pid=$3
    for _ in $(seq 600); do
        if curl -fs -o /dev/null --max-time 2 "$url"; then return 0; fi
        kill -0 "$pid" 2>/dev/null || die "$name exited before it was ready"
        sleep 0.1
    done
    die "$name is not ready after 60 s ($url)"
}

# One node after the other: the first one makes the tables.
for node in "${nodes[@]}"; do
    start "node $node" deploy/run-unit.sh --env-dir deploy/cluster --exec "$hearth_bin" \
        ${RUST_LOG:+--setenv "RUST_LOG=$RUST_LOG"} deploy/hearth@.service "$node"
    wait_ready "node $node" "http://${node_addr[$node]}/readyz" "${pids[-1]}"
done
start nginx "$nginx_bin" -c "$root/deploy/cluster/nginx.conf" -p "$state/nginx/"
wait_ready nginx "http://$proxy/readyz" "${pids[-1]}"

addrs=()
for node in "${nodes[@]}"; do addrs+=("${node_addr[$node]}"); done
say "Hearth on http://$proxy (nginx), nodes ${addrs[*]}"
say "Ctrl-C (or make cluster-stop) stops them all"

# Until nginx ends, or the last node (a node may be stopped to watch the other take over:
# `kill <pid>`, pids in target/cluster/pids), or a signal ends this script.
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
    [[ ${names[$ended]} != nginx ]] || exit 1
    nodes_left=0
    for pid in "${pids[@]}"; do
        if [[ ${names[$pid]} == node* ]]; then nodes_left=$((nodes_left + 1)); fi
    done
    ((nodes_left)) || exit 1
    say "$nodes_left node(s) left"
done
