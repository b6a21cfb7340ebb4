#!/usr/bin/env bash
# User-space instructions per command, counted by callgrind: the part of a
# server's CPU per request that does not move with this machine's noise
# (CPU time per request varies by 10-20% between runs; this count varies
# by well under 1%). The kernel's share (system calls, TCP) is not
# counted: scripts/bench.py measures the whole.
#
#   scripts/instructions.sh [tests] [requests] [servers...]
#   scripts/instructions.sh ping_mbulk,get,rpush 100000 target/release/rudis-server redis-server
#
# Each server runs under valgrind on a free port; redis-benchmark -P 16
# -c 50 -r 100000 warms it up (20,000 requests), the counters are zeroed,
# then `requests` requests run and the count is divided by them.
set -euo pipefail

tests=${1:-ping_mbulk,get,set,rpush,sadd}
requests=${2:-100000}
shift $(( $# > 2 ? 2 : $# )) || true
servers=("$@")
if [ ${#servers[@]} -eq 0 ]; then
    cargo build --release --quiet
    servers=(target/release/rudis-server redis-server)
fi
for tool in valgrind callgrind_control redis-benchmark redis-cli; do
    command -v $tool >/dev/null || { echo "$tool is needed (apt-get install valgrind redis-tools)"; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

count() {
    local server=$1 test=$2 binary dir port pid total
    # A path is made absolute (the server runs in its own directory); a
    # name is found on PATH, not resolved: redis-server is a symlink whose
    # name decides what the binary does.
    if [[ $server == */* ]]; then binary=$(realpath "$server"); else binary=$(command -v "$server"); fi
    dir=$(mktemp -d)
    port=$(free_port)
    (cd "$dir" && exec valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
        --callgrind-out-file="$dir/out" "$binary" \
        --port "$port" --save "" >/dev/null 2>"$dir/valgrind.log") &
    pid=$!
    for _ in $(seq 1 150); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.2; done
    redis-cli -p "$port" ping >/dev/null 2>&1 || { echo "$server did not start" >&2; exit 1; }
    redis-benchmark -p "$port" -t "$test" -P 16 -n 20000 -r 100000 -q >/dev/null 2>&1
    callgrind_control -z "$pid" >/dev/null 2>&1
    redis-benchmark -p "$port" -t "$test" -P 16 -n "$requests" -r 100000 -q >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" || true
    total=$(sed -n 's/^summary: //p' "$dir/out.1")
    rm -rf "$dir"
    echo $(( total / requests ))
}

printf '%-14s' test
for server in "${servers[@]}"; do printf '%24s' "$(basename "$server")"; done
echo
for test in ${tests//,/ }; do
    printf '%-14s' "$test"
    for server in "${servers[@]}"; do printf '%24s' "$(count "$server" "$test")"; done
    echo
done
