#!/usr/bin/env python3
"""The longest command while a table grows: rudis against redis-server.

Each round starts both servers fresh (pinned to CPU 0), turns the slow log
on for every command over --threshold microseconds, and feeds each the
same commands through `redis-cli --pipe` (on CPU 1):
  keys     SET key:<i> v, for --count keys (the keyspace grows);
  members  SADD s member:<i>, for --count members (one set grows).
It reports the time to take them all, the slowest command the slow log
saw and how many went over the threshold. A table that rehashes all its
keys when it doubles shows here as one command of hundreds of
milliseconds; an incremental rehash as none.

    scripts/growth_bench.py                       # 2M, 3 rounds
    scripts/growth_bench.py --count 500000 --rounds 1
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench import free_port, wait_listening  # noqa: E402


def resp(*parts):
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def workloads(count):
    keys = b"".join(resp(b"SET", b"key:%d" % i, b"v") for i in range(count))
    members = b"".join(resp(b"SADD", b"s", b"member:%d" % i) for i in range(count))
    return [("keys", keys), ("members", members)]


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, check=True)
    return out.stdout.decode()


def slow_commands(port):
    """Durations (us) of the slow log's entries."""
    script = "local r={} for _,e in ipairs(redis.call('slowlog','get',-1)) do r[#r+1]=e[3] end return r"
    return [int(d) for d in cli(port, "eval", script, "0").split()]


def run(binary, commands, threshold):
    port = free_port()
    proc = subprocess.Popen(["taskset", "-c", "0", binary, "--port", str(port), "--save", "",
                             "--appendonly", "no", "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL, cwd="/tmp")
    try:
        wait_listening(port, proc)
        cli(port, "config", "set", "slowlog-max-len", "10000")
        cli(port, "config", "set", "slowlog-log-slower-than", str(threshold))
        started = time.monotonic()
        subprocess.run(["taskset", "-c", "1", "redis-cli", "-p", str(port), "--pipe"],
                       input=commands, capture_output=True, check=True)
        seconds = time.monotonic() - started
        slow = slow_commands(port)
        return {"seconds": seconds, "max_ms": max(slow, default=0) / 1000, "over": len(slow)}
    finally:
        proc.terminate()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threshold", type=int, default=1000, help="slow log threshold, us")
    parser.add_argument("--baseline", help="another rudis-server binary to compare")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    servers = {"rudis": os.path.join(ROOT, "target", "release", "rudis-server")}
    if args.baseline:
        servers["baseline"] = args.baseline
    servers["redis"] = "redis-server"
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  count={args.count} rounds={args.rounds} "
          f"threshold={args.threshold}us (medians)")
    print(f"{'workload':<9}{'server':<10}{'seconds':>9}{'max ms':>9}{'over':>6}")
    for name, commands in workloads(args.count):
        results = {server: [] for server in servers}
        for _ in range(args.rounds):
            for server, binary in servers.items():
                results[server].append(run(binary, commands, args.threshold))
        for server in servers:
            med = {k: statistics.median(r[k] for r in results[server]) for k in results[server][0]}
            print(f"{name:<9}{server:<10}{med['seconds']:>9.2f}{med['max_ms']:>9.1f}{med['over']:>6.0f}")


if __name__ == "__main__":
    main()
