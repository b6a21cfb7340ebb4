#!/usr/bin/env python3
"""Geo figures, rudis against redis-server in the same run (pinned as
scripts/bench.py pins them): 1,000,000 random points in one key (memory
growth), then GEOSEARCH around a point by radius and by box, and GEOADD,
rps and server CPU per request, medians.

    scripts/geo_bench.py [--rounds 3] [--points 1000000]
"""

import argparse
import os
import random
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from hll_bench import command, info_field, pipeline  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=bench.ROOT, check=True)
    rng = random.Random(42)
    batches = []
    for start in range(0, args.points, 500):
        parts = ["GEOADD", "pts"]
        for i in range(start, min(start + 500, args.points)):
            parts += [f"{rng.uniform(-180, 180):.6f}", f"{rng.uniform(-85, 85):.6f}", f"p{i}"]
        batches.append(command(None, *parts))
    servers = {}
    for name in ("rudis", "redis"):
        port = bench.free_port()
        servers[name] = (bench.start(name, port), port)
    print(f"# memory: {args.points} points in one key")
    for name, (proc, port) in servers.items():
        used0, rss0 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        pipeline(port, batches)
        used1, rss1 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        print(f"{name:<6} used_memory +{(used1 - used0) / 1e6:.1f} MB, RSS +{(rss1 - rss0) / 1e3:.1f} MB")
    opts = argparse.Namespace(requests=0, clients=50, keyspace=0, datasize=0)
    tests = [
        ("GEOSEARCH pts FROMLONLAT 2.35 48.85 BYRADIUS 200 km ASC WITHDIST", 1, 100_000),
        ("GEOSEARCH pts FROMLONLAT 2.35 48.85 BYBOX 400 400 km ASC COUNT 10", 1, 100_000),
        ("GEOADD pts 13.361389 38.115556 Palermo", 16, 1_000_000),
    ]
    for line, depth, requests in tests:
        opts.requests = requests
        results = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (proc, port) in servers.items():
                results[name].append(bench.run_benchmark(port, proc.pid, "cmd:" + line, depth, opts))
        med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in results.items()}
        for name in servers:
            print(f"{line[:40]:<42}-P {depth:<3}{name:<6}{med[name]['rps']:>10.0f} rps {med[name]['cpu_us']:>8.2f} us/req")
        print(f"{'':<42}rudis/redis: rps x{med['rudis']['rps'] / med['redis']['rps']:.2f}, "
              f"cpu per request x{med['rudis']['cpu_us'] / med['redis']['cpu_us']:.2f}")
    for proc, _ in servers.values():
        proc.kill()


if __name__ == "__main__":
    main()
