#!/usr/bin/env bash
# Runs one instance of a systemd template unit without systemd: the environment and command
# the unit gives its service, nothing else. `make cluster` starts its nodes with it, so that
# deploy/hearth@.service is the one place a node's command line is written, for production
# and for the local cluster alike.
#
#   deploy/run-unit.sh [options] UNIT_FILE INSTANCE
#
#   --env-dir DIR   read each EnvironmentFile= from DIR instead of its own folder (same name)
#   --exec PATH     run PATH instead of ExecStart='s program (its arguments stay)
#   --setenv K=V    one more variable, set last (repeatable)
#   --dry-run       print the command it would run (with its whole environment) and stop
#
# From the [Service] section it reads Environment=, EnvironmentFile= (whose variables override
# Environment='s, as in systemd; a leading `-` lets the file be missing) and a single
# ExecStart=, with the specifiers %i %I %p %n %N %%. Like systemd it starts the program with a
# clean environment: PATH and what the unit sets. Everything else in the unit (the user,
# WorkingDirectory=, the sandboxing, Restart=) is systemd's job and is ignored here: the
# program runs as the caller, in the current directory, in the foreground, as this process.
# Anything it does not understand (other specifiers, `$` expansion in ExecStart=, prefixes
# other than `-`, several ExecStart= lines) stops it with an error instead of a guess.

set -euo pipefail

die() {
    echo "run-unit: $*" >&2
    exit 2
}

env_dir=""
exec_path=""
dry_run=0
extra_env=()
while (($#)); do
    case "$1" in
    --env-dir) env_dir="${2:?--env-dir needs a folder}"; shift 2 ;;
    --exec) exec_path="${2:?--exec needs a path}"; shift 2 ;;
    --setenv) extra_env+=("${2:?--setenv needs KEY=VALUE}"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
(($# == 2)) || die "usage: run-unit.sh [--env-dir DIR] [--exec PATH] [--setenv K=V] [--dry-run] UNIT_FILE INSTANCE"
unit_file=$1
instance=$2
[[ -r $unit_file ]] || die "cannot read $unit_file"
[[ $instance =~ ^[A-Za-z0-9_.:-]+$ ]] || die "instance '$instance' must be plain (letters, digits, _ . : -)"

unit_name=$(basename "$unit_file")            # hearth@.service
prefix=${unit_name%%@*}                       # hearth
[[ $unit_name == *@.service ]] || die "$unit_name is not a template (NAME@.service)"
full_name="$prefix@$instance.service"

# %i and friends, replaced in $1; the result goes to `expanded`. Any other specifier is an
# error.
expanded=""
specifiers() {
    local in=$1 out="" c
    while [[ -n $in ]]; do
        c=${in:0:1}
        if [[ $c != % ]]; then
            out+=$c
            in=${in:1}
            continue
        fi
        case "${in:1:1}" in
        i | I) out+=$instance ;;
        p | P) out+=$prefix ;;
        n) out+=$full_name ;;
        N) out+=${full_name%.service} ;;
        %) out+=% ;;
        *) die "specifier %${in:1:1} is not supported: $in" ;;
        esac
        in=${in:2}
    done
    expanded=$out
}

# Splits a value into words at blanks, with "double" or 'single' quotes around a word or part
# of one (no backslash escapes). The words go to the array `words`.
words=()
split_words() {
    local in=$1 word="" c quote="" started=0
    words=()
    [[ $in != *\\* ]] || die "backslashes are not supported: $in"
    while [[ -n $in ]]; do
        c=${in:0:1}
        in=${in:1}
        if [[ -n $quote ]]; then
            if [[ $c == "$quote" ]]; then quote=""; else word+=$c; fi
        elif [[ $c == '"' || $c == "'" ]]; then
            quote=$c
            started=1
        elif [[ $c == " " || $c == $'\t' ]]; then
            if ((started)); then words+=("$word"); fi
            word=""
            started=0
        else
            word+=$c
            started=1
        fi
    done
    [[ -z $quote ]] || die "unbalanced quote in: $1"
    if ((started)); then words+=("$word"); fi
}

valid_name() {
    [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]
}

# The [Service] section's lines, continuation lines (trailing backslash) joined.
env_lines=()
env_files=()
exec_lines=()
section=""
pending=""
while IFS= read -r line || [[ -n $line ]]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    if [[ -z $pending && ($line == \#* || $line == \;*) ]]; then continue; fi
    if [[ $line == *\\ ]]; then
        pending+="${line%\\} "
        continue
    fi
    line="$pending$line"
    pending=""
    [[ -n $line ]] || continue
    if [[ $line =~ ^\[(.*)\]$ ]]; then
        section=${BASH_REMATCH[1]}
        continue
    fi
    [[ $section == Service ]] || continue
    key=${line%%=*}
    key="${key%"${key##*[![:space:]]}"}"
    value=${line#*=}
    value="${value#"${value%%[![:space:]]*}"}"
    case "$key" in
    Environment)
        if [[ -z $value ]]; then env_lines=(); else env_lines+=("$value"); fi ;;
    EnvironmentFile)
        if [[ -z $value ]]; then env_files=(); else env_files+=("$value"); fi ;;
    ExecStart)
        if [[ -z $value ]]; then exec_lines=(); else exec_lines+=("$value"); fi ;;
    esac
done <"$unit_file"

# The environment, in systemd's order: Environment=, then the files, then --setenv.
declare -A env=()
env_order=()
set_var() {
    local name=$1
    valid_name "$name" || die "not a variable name: '$name'"
    [[ -v env[$name] ]] || env_order+=("$name")
    env[$name]=$2
}

for value in "${env_lines[@]}"; do
    specifiers "$value"
    split_words "$expanded"
    for assignment in "${words[@]}"; do
        [[ $assignment == *=* ]] || die "Environment= needs NAME=VALUE: $assignment"
        set_var "${assignment%%=*}" "${assignment#*=}"
    done
done

for value in "${env_files[@]}"; do
    specifiers "$value"
    path=$expanded
    optional=0
    if [[ $path == -* ]]; then
        optional=1
        path=${path#-}
    fi
    if [[ -n $env_dir ]]; then path="$env_dir/$(basename "$path")"; fi
    if [[ ! -r $path ]]; then
        ((optional)) && continue
        die "cannot read EnvironmentFile $path"
    fi
    number=0
    while IFS= read -r line || [[ -n $line ]]; do
        number=$((number + 1))
        line="${line#"${line%%[![:space:]]*}"}"
        line="${line%"${line##*[![:space:]]}"}"
        [[ -z $line || $line == \#* || $line == \;* ]] && continue
        [[ $line == *=* ]] || die "$path:$number: not NAME=VALUE"
        name=${line%%=*}
        name="${name%"${name##*[![:space:]]}"}"
        value=${line#*=}
        value="${value#"${value%%[![:space:]]*}"}"
        if [[ ${#value} -ge 2 && (($value == \"*\" ) || ($value == \'*\')) ]]; then
            value=${value:1:${#value}-2}
        fi
        valid_name "$name" || die "$path:$number: not a variable name: '$name'"
        set_var "$name" "$value"
    done <"$path"
done

for assignment in "${extra_env[@]}"; do
    [[ $assignment == *=* ]] || die "--setenv needs NAME=VALUE: $assignment"
    set_var "${assignment%%=*}" "${assignment#*=}"
done

# The command.
((${#exec_lines[@]} == 1)) || die "$unit_file needs exactly one ExecStart= (it has ${#exec_lines[@]})"
command_line=${exec_lines[0]}
command_line=${command_line#-}
[[ $command_line != [@:+!]* ]] || die "ExecStart= prefixes other than '-' are not supported: $command_line"
[[ $command_line != *\$* ]] || die "variables in ExecStart= are not supported: $command_line"
specifiers "$command_line"
split_words "$expanded"
((${#words[@]})) || die "empty ExecStart="
argv=("${words[@]}")
if [[ -n $exec_path ]]; then argv[0]=$exec_path; fi

assignments=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
for name in "${env_order[@]}"; do
    [[ $name == PATH ]] && assignments[0]="PATH=${env[$name]}" && continue
    assignments+=("$name=${env[$name]}")
done

if ((dry_run)); then
    printf '%q' env
    printf ' %q' -i "${assignments[@]}" "${argv[@]}"
    printf '\n'
    exit 0
fi
exec env -i "${assignments[@]}" "${argv[@]}"
