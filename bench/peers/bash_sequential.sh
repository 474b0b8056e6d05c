#!/usr/bin/env bash
# bash_sequential.sh COMMANDS_FILE
#
# Peer baseline for per-job overhead: a bash loop that runs the commands listed in
# COMMANDS_FILE one after another, each started as a plain process (no shell parsing).
#
# COMMANDS_FILE holds one command per line, written as its argv list:
# - fields separated by TAB characters, so an argument may contain spaces
#   (e.g. printf '%s\t' python3 extract.py "my file.zip" out; printf '\n');
# - a line without any TAB is split on spaces instead;
# - blank lines and lines starting with '#' are skipped.
# There is no quoting, globbing or variable expansion; arguments cannot be empty or
# contain TABs or newlines.
#
# Every command runs even if an earlier one failed. At the end a summary line
# ("ran N commands, F failed, in S s") goes to stderr; the exit status is 0 if all
# succeeded and 1 otherwise (2 for bad usage).
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 COMMANDS_FILE" >&2
    exit 2
fi
if [ ! -r "$1" ]; then
    echo "bash_sequential.sh: cannot read $1" >&2
    exit 2
fi

tab=$'\t'
ran=0
failed=0
start=${EPOCHREALTIME/[^0-9]/}  # microseconds, whatever the locale's decimal mark
while IFS= read -r -u 3 line || [ -n "$line" ]; do
    case $line in '' | '#'*) continue ;; esac
    if [[ $line == *"$tab"* ]]; then
        IFS=$tab read -r -a argv <<<"$line"
    else
        IFS=' ' read -r -a argv <<<"$line"
    fi
    [ ${#argv[@]} -eq 0 ] && continue
    ran=$((ran + 1))
    if ! "${argv[@]}"; then
        failed=$((failed + 1))
        echo "bash_sequential.sh: command $ran failed: ${argv[*]}" >&2
    fi
done 3<"$1"
end=${EPOCHREALTIME/[^0-9]/}

micros=$((end - start))
printf -v elapsed '%d.%06d' $((micros / 1000000)) $((micros % 1000000))
echo "ran $ran commands, $failed failed, in $elapsed s" >&2
[ "$failed" -eq 0 ]
