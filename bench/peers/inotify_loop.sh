#!/usr/bin/env bash
# inotify_loop.sh DIR CMD [ARG...]
#
# Peer baseline for the file-watch benchmark: `inotifywait -m` feeding a bash loop
# that runs CMD ARG... FILE once for each file closed after writing in DIR, or moved
# into DIR, one command at a time.
#
# - Needs inotifywait (apt-get install -y inotify-tools).
# - Ready once "Watches established." appears on stderr (printed by inotifywait).
# - The loop reads events on fd 3, so CMD keeps this script's stdin and cannot
#   swallow events. A failing CMD is reported on stderr and the loop goes on.
# - SIGTERM or SIGINT stops inotifywait and the loop (exit 143 / 130).
# - Like any `read` loop over names, a file name holding a newline is split.
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 DIR CMD [ARG...]" >&2
    exit 2
fi
dir=$1
shift
if [ ! -d "$dir" ]; then
    echo "inotify_loop.sh: $dir is not a folder" >&2
    exit 2
fi
if ! command -v inotifywait >/dev/null 2>&1; then
    echo "inotify_loop.sh: inotifywait not found; install it with: apt-get install -y inotify-tools" >&2
    exit 127
fi

# Process substitution instead of a plain `|` so that this shell knows the watcher's
# pid and can stop it on exit; the data path (a pipe into `read`) is the same.
exec 3< <(exec inotifywait -m -e close_write,moved_to --format '%w%f' -- "$dir")
watcher=$!
trap 'kill "$watcher" 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

while IFS= read -r -u 3 file; do
    "$@" "$file" || echo "inotify_loop.sh: '$*' exited $? for $file" >&2
done
