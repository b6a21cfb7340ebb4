#!/usr/bin/env python3
"""jemalloc (the default build) against the C library's malloc
(`--features system-malloc`): memory after churn.

Each round starts both builds fresh (pinned to CPU 0) and feeds each the
same commands through `redis-cli --pipe`:
  fill     SET key:<i> with values of 64-191 bytes, for --keys keys;
  delete   DEL every other key;
  refill   SET new:<i> with values of 200-327 bytes, for half as many keys,
and reports after each phase used_memory, RSS and INFO memory's
mem_fragmentation_ratio (RSS / used_memory) and allocator_frag_ratio (what
the allocator holds active / what is allocated); "settled" is the same
10 s after the refill (jemalloc returns dirty pages over 10 s).

    scripts/alloc_bench.py                 # 1M keys, 1 round
    scripts/alloc_bench.py --keys 200000 --rounds 3

CPU per request of the two builds: scripts/bench.py --baseline
target/system-malloc/release/rudis-server (after this script built it).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench import free_port, info_fields, memory_kib, wait_listening  # noqa: E402


def resp(*parts):
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def phases(keys):
    fill = b"".join(resp(b"SET", b"key:%d" % i, b"v" * (64 + i % 128)) for i in range(keys))
    delete = b"".join(resp(b"DEL", b"key:%d" % i) for i in range(0, keys, 2))
    refill = b"".join(resp(b"SET", b"new:%d" % i, b"w" * (200 + i % 128)) for i in range(keys // 2))
    return [("fill", fill), ("delete", delete), ("refill", refill)]


def snapshot(port, pid):
    info = info_fields(port, "memory")
    return {
        "used_mb": int(info["used_memory"]) / 1e6,
        "rss_mb": memory_kib(pid) / 1e3,
        "mem_frag": float(info["mem_fragmentation_ratio"]),
        "alloc_frag": float(info["allocator_frag_ratio"]),
    }


def run(binary, work):
    port = free_port()
    proc = subprocess.Popen(["taskset", "-c", "0", binary, "--port", str(port), "--save", "",
                             "--loglevel", "warning"], stdout=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        result = {}
        for name, commands in work:
            subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=commands,
                           capture_output=True, check=True)
            result[name] = snapshot(port, proc.pid)
        time.sleep(10)
        result["settled"] = snapshot(port, proc.pid)
        return result
    finally:
        proc.terminate()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    system_dir = os.path.join(ROOT, "target", "system-malloc")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        subprocess.run(["cargo", "build", "--release", "--quiet", "--features", "system-malloc",
                        "--target-dir", system_dir], cwd=ROOT, check=True)
    builds = {
        "jemalloc": os.path.join(ROOT, "target", "release", "rudis-server"),
        "libc": os.path.join(system_dir, "release", "rudis-server"),
    }
    work = phases(args.keys)
    results = {name: [] for name in builds}
    for _ in range(args.rounds):
        for name, binary in builds.items():
            results[name].append(run(binary, work))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  keys={args.keys} rounds={args.rounds} (medians)")
    print(f"{'phase':<9}{'allocator':<10}{'used MB':>9}{'RSS MB':>9}{'mem_frag':>10}{'alloc_frag':>12}")
    for phase in ("fill", "delete", "refill", "settled"):
        for name in builds:
            med = {k: statistics.median(r[phase][k] for r in results[name]) for k in results[name][0][phase]}
            print(f"{phase:<9}{name:<10}{med['used_mb']:>9.1f}{med['rss_mb']:>9.1f}"
                  f"{med['mem_frag']:>10.2f}{med['alloc_frag']:>12.2f}")


if __name__ == "__main__":
    main()
