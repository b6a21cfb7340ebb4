#!/usr/bin/env python3
"""Cache benchmark: is the eviction policy any good?

A cache-aside client (GET; on a miss, SET the value) runs a skewed
workload over ten times more keys than fit under `maxmemory`, against
rudis and redis-server with the same limit and policy, pinned as
scripts/bench.py pins them (server on CPU 0, client on CPU 1), one
server after the other on the very same key sequence. It prints the
hit ratio of the measured phase (after a warm-up), the requests per
second the client saw, the server's CPU time per request, and the
keys and resident memory each server held at the end.

Workloads:
  zipf  keys drawn from a Zipfian distribution (s=0.99, as YCSB)
  scan  the same, with one request in five from a sequential scan
        over the whole keyspace (what LRU suffers from)

    scripts/cache_bench.py                         # both policies, both workloads
    scripts/cache_bench.py --policies allkeys-lru --workloads zipf --keys 500000
"""

import argparse
import bisect
import os
import random
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench import cpu_seconds, free_port, memory_kib, wait_listening  # noqa: E402

BATCH = 64


def start(name, port, maxmemory, policy):
    common = ["--port", str(port), "--save", "", "--loglevel", "warning",
              "--maxmemory", maxmemory, "--maxmemory-policy", policy]
    if name == "rudis":
        cmd = [os.path.join(ROOT, "target", "release", "rudis-server")] + common
    else:
        cmd = ["redis-server"] + common + ["--appendonly", "no", "--dir", "/tmp"]
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL)
    wait_listening(port, proc)
    return proc


def zipf_sampler(n, s, rng):
    weights = [1.0 / (i ** s) for i in range(1, n + 1)]
    total = sum(weights)
    cdf, acc = [], 0.0
    for w in weights:
        acc += w / total
        cdf.append(acc)
    # Popular keys are spread over the keyspace, not the first ids.
    perm = list(range(n))
    rng.shuffle(perm)
    return lambda: perm[min(bisect.bisect_left(cdf, rng.random()), n - 1)]


def key_sequence(workload, n, count, seed):
    rng = random.Random(seed)
    draw = zipf_sampler(n, 0.99, rng)
    keys, cursor = [], 0
    for _ in range(count):
        if workload == "scan" and rng.random() < 0.2:
            keys.append(cursor)
            cursor = (cursor + 1) % n
        else:
            keys.append(draw())
    return keys


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def reply(self):
        """Reads one reply: True for a bulk string, False for a nil."""
        line = self._line()
        if line[:1] == b"$":
            size = int(line[1:])
            if size < 0:
                return False
            while len(self.buf) - self.pos < size + 2:
                self._fill()
            self.pos += size + 2
            return True
        if line[:1] == b"-":
            raise RuntimeError(line.decode())
        return True

    def command(self, *args):
        self.sock.sendall(encode(*args))
        return self._line()


def run_workload(port, pid, keys, value, warmup):
    """Runs the key sequence; returns the measured phase's hit ratio,
    requests, seconds and server CPU seconds, and the client."""
    client = Client(port)
    gets = [encode(b"GET", b"key:%d" % k) for k in range(max(keys) + 1)]
    hits = lookups = 0
    requests = 0
    started = None
    cpu_at_start = 0.0
    for start_at in range(0, len(keys), BATCH):
        if start_at >= warmup and started is None:
            started = time.perf_counter()
            cpu_at_start = cpu_seconds(pid)
            hits = lookups = requests = 0
        batch = keys[start_at:start_at + BATCH]
        client.sock.sendall(b"".join(gets[k] for k in batch))
        missed = [k for k in batch if not client.reply()]
        lookups += len(batch)
        hits += len(batch) - len(missed)
        requests += len(batch) + len(missed)
        if missed:
            client.sock.sendall(b"".join(encode(b"SET", b"key:%d" % k, value) for k in missed))
            for _ in missed:
                client.reply()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_at_start
    return hits / lookups, requests, elapsed, cpu, client


def info_field(client, section, field):
    client.sock.sendall(encode(b"INFO", section.encode()))
    header = client._line()
    size = int(header[1:])
    while len(client.buf) - client.pos < size + 2:
        client._fill()
    text = client.buf[client.pos:client.pos + size].decode()
    client.pos += size + 2
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", default="allkeys-lru,allkeys-lfu")
    parser.add_argument("--workloads", default="zipf,scan")
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--maxmemory", default="20mb")
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    value = b"v" * args.value_size
    print(f"keys={args.keys} maxmemory={args.maxmemory} value={args.value_size}B "
          f"warmup={args.warmup} measured={args.requests}")
    print(f"{'workload':8} {'policy':12} {'server':6} {'hit%':>7} {'rps':>9} {'cpu us/req':>10} {'keys held':>10} {'RSS MB':>7}")
    for workload in args.workloads.split(","):
        keys = key_sequence(workload, args.keys, args.warmup + args.requests, args.seed)
        for policy in args.policies.split(","):
            for name in ("rudis", "redis"):
                port = free_port()
                proc = start(name, port, args.maxmemory, policy)
                try:
                    ratio, requests, elapsed, cpu, client = run_workload(
                        port, proc.pid, keys, value, args.warmup)
                    held = info_field(client, "keyspace", "db0").split(",")[0].split("=")[-1]
                    print(f"{workload:8} {policy:12} {name:6} {ratio * 100:7.2f} {requests / elapsed:9.0f} "
                          f"{cpu * 1e6 / requests:10.2f} {held:>10} {memory_kib(proc.pid) / 1024:7.1f}", flush=True)
                finally:
                    proc.terminate()
                    proc.wait()


if __name__ == "__main__":
    main()
