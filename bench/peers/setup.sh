#!/usr/bin/env bash
# Installs what the benchmark's peer servers need, and only what is missing:
#   node/node_modules  from node/package-lock.json  (npm ci)
#   flask/.venv        from flask/requirements.txt  (python3 -m venv + pip)
# Safe to run again: each part is skipped while its stamp still matches its
# lock file and interpreter. Needs node + npm and python3 (with venv) on PATH.
# Usage: setup.sh [node] [flask]   (default: both)
set -euo pipefail
parts=" ${*:-node flask} "
here=$(cd "$(dirname "$0")" && pwd)

need() {
  command -v "$1" >/dev/null || { echo "setup.sh: $1 not on PATH" >&2; exit 1; }
}
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- node peer ---------------------------------------------------------------
if [[ $parts == *" node "* ]]; then
need node
need npm
node_dir=$here/node
node_stamp=$node_dir/node_modules/.hearth-setup-stamp
node_want="$(digest "$node_dir/package.json" "$node_dir/package-lock.json")"
node_want+=" node $(node --version)"
if [[ -f $node_stamp && $(cat "$node_stamp") == "$node_want" ]]; then
  echo "node peer: node_modules up to date"
else
  echo "node peer: npm ci"
  (cd "$node_dir" && npm ci --no-audit --no-fund)
  echo "$node_want" >"$node_stamp"
fi

fi

# --- flask peer --------------------------------------------------------------
if [[ $parts == *" flask "* ]]; then
need python3
flask_dir=$here/flask
venv=$flask_dir/.venv
py_stamp=$venv/.hearth-setup-stamp
if [[ -e $venv ]] && ! "$venv/bin/python" -c '' 2>/dev/null; then
  echo "flask peer: $venv is broken (its python moved?), recreating"
  rm -rf "$venv"
fi
if [[ ! -x $venv/bin/python ]]; then
  echo "flask peer: python3 -m venv $venv"
  python3 -m venv "$venv"
fi
py_want="$(digest "$flask_dir/requirements.txt")"
py_want+=" $("$venv/bin/python" --version 2>&1)"
if [[ -f $py_stamp && $(cat "$py_stamp") == "$py_want" ]] &&
   "$venv/bin/python" -c 'import flask_socketio, gevent' 2>/dev/null; then
  echo "flask peer: .venv up to date"
else
  echo "flask peer: pip install -r requirements.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$flask_dir/requirements.txt"
  echo "$py_want" >"$py_stamp"
fi
fi
