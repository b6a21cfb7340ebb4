#!/usr/bin/env python3
"""HyperLogLog figures, rudis against redis-server in the same run (each
server pinned to CPU 0, the load to CPU 1, as scripts/bench.py does):

- memory of 10,000 HLLs of 200 elements each (sparse), then of the same
  after PFDEBUG TODENSE on all of them: used_memory and RSS growth;
- PFADD of random elements (redis-benchmark, -P 16) and PFCOUNT of ten
  dense keys merged (-P 1), rps and server CPU per request, medians.

    scripts/hll_bench.py [--rounds 3]
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def pipeline(port, commands):
    """Sends the commands in batches and reads every reply."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        for start in range(0, len(commands), 1000):
            batch = commands[start:start + 1000]
            s.sendall(b"".join(batch))
            for _ in batch:
                read_reply(f)


def read_reply(f):
    line = f.readline()
    kind = line[:1]
    if kind == b"$":
        n = int(line[1:])
        return f.read(n + 2) if n >= 0 else None
    if kind == b"*":
        return [read_reply(f) for _ in range(int(line[1:]))]
    return line


def info_field(port, field):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(command(s, "INFO", "memory"))
        text = read_reply(s.makefile("rb")).decode()
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=bench.ROOT, check=True)
    servers = {}
    for name in ("rudis", "redis"):
        port = bench.free_port()
        servers[name] = (bench.start(name, port), port)
    print("# memory: 10,000 HLLs of 200 elements")
    for name, (proc, port) in servers.items():
        used0, rss0 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        adds = [command(None, "PFADD", f"hll:{k}", *[f"e{k}:{i}" for i in range(200)]) for k in range(10000)]
        pipeline(port, adds)
        used1, rss1 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        pipeline(port, [command(None, "PFDEBUG", "TODENSE", f"hll:{k}") for k in range(10000)])
        used2, rss2 = info_field(port, "used_memory"), bench.memory_kib(proc.pid)
        print(f"{name:<6} sparse: used_memory +{(used1 - used0) / 1e6:.1f} MB, RSS +{(rss1 - rss0) / 1e3:.1f} MB; "
              f"dense: used_memory +{(used2 - used0) / 1e6:.1f} MB, RSS +{(rss2 - rss0) / 1e3:.1f} MB")
        # Ten dense keys of 10,000 elements for PFCOUNT.
        pipeline(port, [command(None, "PFADD", f"big:{k}", *[f"b{k}:{i}" for i in range(j, j + 500)])
                        for k in range(10) for j in range(0, 10000, 500)])
    opts = argparse.Namespace(requests=0, clients=50, keyspace=0, datasize=0)
    tests = [
        ("PFADD hll:new __rand_int__", 16, 1_000_000, 1_000_000),
        ("PFCOUNT " + " ".join(f"big:{k}" for k in range(10)), 1, 50_000, 0),
    ]
    for line, depth, requests, keyspace in tests:
        opts.requests, opts.keyspace = requests, keyspace
        results = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (proc, port) in servers.items():
                results[name].append(bench.run_benchmark(port, proc.pid, "cmd:" + line, depth, opts))
        med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in results.items()}
        for name in servers:
            print(f"{line[:22]:<24}-P {depth:<3}{name:<6}{med[name]['rps']:>10.0f} rps {med[name]['cpu_us']:>8.2f} us/req")
        print(f"{'':<24}rudis/redis: rps x{med['rudis']['rps'] / med['redis']['rps']:.2f}, "
              f"cpu per request x{med['rudis']['cpu_us'] / med['redis']['cpu_us']:.2f}")
    for proc, _ in servers.values():
        proc.kill()


if __name__ == "__main__":
    main()
