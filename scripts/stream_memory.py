#!/usr/bin/env python3
"""Memory of one stream of 1,000,000 entries of 3 small fields, rudis
against redis-server in the same run: growth of used_memory and RSS,
with explicit IDs (a regular clock) and with the same field names or
changing ones; then 1M entries pending in a consumer group.
scripts/stream_memory.py"""
import sys
import subprocess
sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
import bench
from hll_bench import command, pipeline, info_field
subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=bench.ROOT, check=True)
servers = {}
for name in ("rudis", "redis"):
    port = bench.free_port()
    servers[name] = (bench.start(name, port), port)


def same_fields(key, i):
    return command(None, "XADD", key, f"{1700000000000 + i // 3}-*", "user", str(i % 5000),
                   "action", "click", "value", str(i))


def varying_fields(key, i):
    return command(None, "XADD", key, f"{1700000000000 + i}-0", f"f{i % 7}", "a",
                   "g", str(i), "h", "x" * (i % 9))


for label, make in [("same fields", same_fields), ("varying fields", varying_fields)]:
    for name, (proc, port) in servers.items():
        used0, rss0 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        key = label.replace(" ", "-")
        for start in range(0, 1_000_000, 10_000):
            pipeline(port, [make(key, i) for i in range(start, start + 10_000)])
        used1, rss1 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        print(f"{label} {name}: used +{(used1-used0)/1e6:.1f} MB RSS +{(rss1-rss0)/1e3:.1f} MB",
              flush=True)
# A consumer group that read the first stream: 1M pending entries.
for name, (proc, port) in servers.items():
    pipeline(port, [command(None, "XGROUP", "CREATE", "same-fields", "g", "0")])
    used0, rss0 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
    for _ in range(100):
        pipeline(port, [command(None, "XREADGROUP", "GROUP", "g", f"consumer-{_ % 4}", "COUNT",
                                "10000", "STREAMS", "same-fields", ">")])
    used1, rss1 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
    print(f"1M pending {name}: used +{(used1-used0)/1e6:.1f} MB RSS +{(rss1-rss0)/1e3:.1f} MB",
          flush=True)
for proc, _ in servers.values():
    proc.kill()
