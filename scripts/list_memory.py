#!/usr/bin/env python3
"""Memory of one list of 1,000,000 elements (3, 12 and 40 bytes each),
rudis against redis-server in the same run: growth of used_memory and
RSS. scripts/list_memory.py"""
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
for size, label in [(3, "3-byte"), (12, "12-byte"), (40, "40-byte")]:
    for name, (proc, port) in servers.items():
        used0, rss0 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        el = "x" * size
        pipeline(port, [command(None, "RPUSH", f"l{size}", *([el] * 1000)) for _ in range(1000)])
        used1, rss1 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        print(f"{label} {name}: used +{(used1-used0)/1e6:.1f} MB RSS +{(rss1-rss0)/1e3:.1f} MB")
for proc, _ in servers.values(): proc.kill()
