#!/usr/bin/env bash
# Runs units of Redis 7.0's own test suite (tests/test_helper.tcl) with
# rudis-server standing in for src/redis-server: the harness starts it
# with its config files and drives it with its own client.
#
#   scripts/redis_suite.sh [unit ...]      (default: the units listed below)
#   scripts/redis_suite.sh unit/type/list unit/multi
#
# Fetches Debian's redis 7.0.15 source once into target/redis-suite (tclsh
# is needed: apt-get install tcl). Prints ok/err/exception counts per
# unit; the full output of each is in target/redis-suite/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
command -v tclsh >/dev/null || { echo "tclsh is needed (apt-get install tcl)"; exit 1; }
work=target/redis-suite
src=$work/redis-7.0.15
if [ ! -d "$src" ]; then
    mkdir -p "$work"
    curl -sSfL -o "$work/redis.tar.gz" http://deb.debian.org/debian/pool/main/r/redis/redis_7.0.15.orig.tar.gz
    tar -xzf "$work/redis.tar.gz" -C "$work"
fi
mkdir -p "$src/src" "$work/logs"
cp target/release/rudis-server "$src/src/redis-server"
for tool in redis-cli redis-benchmark redis-check-aof; do
    command -v $tool >/dev/null && ln -sf "$(command -v $tool)" "$src/src/$tool"
done
units=("$@")
if [ ${#units[@]} -eq 0 ]; then
    units=(unit/dump unit/auth unit/protocol unit/keyspace unit/scan unit/info
        unit/type/string unit/type/incr unit/type/list unit/type/set unit/type/zset
        unit/type/hash unit/type/stream unit/type/stream-cgroups unit/sort unit/expire
        unit/multi unit/acl unit/pubsub unit/pubsubshard unit/slowlog unit/scripting
        unit/functions unit/bitops unit/geo unit/hyperloglog unit/tracking)
fi
for unit in "${units[@]}"; do
    log="$work/logs/$(echo "$unit" | tr / _).log"
    (cd "$src" && timeout 1200 tclsh tests/test_helper.tcl --single "$unit" --clients 1 --timeout 120 2>&1) \
        | sed 's/\x1b\[[0-9;]*m//g' > "$log" || true
    printf '%-28s ok=%-4s err=%-3s exception=%-2s timeout=%s\n' "$unit" \
        "$(grep -c '^\[ok\]' "$log")" "$(grep -c '^\[err\]' "$log")" \
        "$(grep -c '^\[exception\]' "$log")" "$(grep -c '^\[TIMEOUT\]' "$log")"
done
