#!/usr/bin/env python3
"""Replication figures, rudis against redis-server in the same roles.

    scripts/repl_bench.py sync --keys 1000000   # full sync: time, master peak memory, replica load
    scripts/repl_bench.py lag                   # replica lag under redis-benchmark -P 16 SET
    scripts/repl_bench.py cpu --rounds 3        # master CPU per request with 0, 1 and 2 replicas

Masters run on CPU 0, redis-benchmark and replicas on CPU 1 (the machine
has two cores). Each kind replicates to its own kind: rudis to rudis,
redis-server to redis-server. Servers are measured alternately.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUDIS = os.path.join(ROOT, "target", "release", "rudis-server")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, kind, cpu, extra=()):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"repl-bench-{kind}-")
        self.log = os.path.join(self.dir, "server.log")
        binary = RUDIS if kind == "rudis" else "redis-server"
        cmd = ["taskset", "-c", str(cpu), binary, "--port", str(self.port), "--save", "",
               "--dir", self.dir, "--logfile", self.log, "--repl-diskless-sync-delay", "0",
               "--enable-debug-command", "yes", *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit(f"{kind} did not start")

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *map(str, args)],
                             capture_output=True, text=True)
        return out.stdout.strip()

    def info(self, section, field):
        for line in self.cli("INFO", section).splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
        return ""

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_with_children(self):
        """Proportional set size of the server and its fork child: pages
        they share copy-on-write count once."""
        total = 0
        pids = [self.proc.pid]
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        for pid in pids:
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def log_time(server, pattern):
    """The time (seconds of the day) of the log line matching `pattern`."""
    with open(server.log) as f:
        for line in f:
            if re.search(pattern, line):
                m = re.search(r"(\d+):(\d+):(\d+)\.(\d+)", line)
                h, mi, s, ms = map(int, m.groups())
                return h * 3600 + mi * 60 + s + ms / 1000
    return None


class Conn:
    """A kept connection for sampling INFO without starting redis-cli."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))

    def field(self, section, name):
        self.sock.sendall(f"INFO {section}\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            data += self.sock.recv(65536)
        header, rest = data.split(b"\r\n", 1)
        size = int(header[1:])
        while len(rest) < size + 2:
            rest += self.sock.recv(65536)
        for line in rest[:size].decode().splitlines():
            if line.startswith(name + ":"):
                return line.split(":", 1)[1]
        return ""


def wait_link(replica, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if replica.info("replication", "master_link_status") == "up":
            return True
        time.sleep(0.01)
    return False


def full_sync(kind, keys):
    master = Server(kind, 0)
    master.cli("DEBUG", "POPULATE", keys, "key", 100)
    replica = Server(kind, 1)
    base_rss = master.rss_with_children()
    started = time.time()
    replica.cli("REPLICAOF", "127.0.0.1", master.port)
    peak = base_rss
    deadline = time.time() + 600
    while replica.info("replication", "master_link_status") != "up" and time.time() < deadline:
        peak = max(peak, master.rss_with_children())
        time.sleep(0.01)
    total = time.time() - started
    loading = log_time(replica, "Loading DB in memory")
    finished = log_time(replica, "Finished with success")
    load = (finished - loading) if loading and finished else float("nan")
    replica_rss = replica.rss_with_children()
    master.stop()
    replica.stop()
    return total, base_rss, peak, load, replica_rss


def benchmark(port, requests, pipeline=16, clients=50):
    out = subprocess.run(
        ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-t", "set", "-n", str(requests),
         "-P", str(pipeline), "-c", str(clients), "-r", "100000", "-q", "--csv"],
        capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith('"SET"'):
            return float(line.split(",")[1].strip('"'))
    return float("nan")


def cmd_sync(args):
    print(f"full sync of {args.keys} keys (100-byte values), diskless, master CPU 0, replica CPU 1")
    print("| server | sync time s | master PSS before MB | master+child PSS peak MB | replica load s | replica PSS MB |")
    print("|---|---|---|---|---|---|")
    for kind in ("rudis", "redis"):
        results = [full_sync(kind, args.keys) for _ in range(args.rounds)]
        med = lambda i: statistics.median(r[i] for r in results)
        print(f"| {kind} | {med(0):.2f} | {med(1)/1024:.1f} | {med(2)/1024:.1f} | {med(3):.2f} | {med(4)/1024:.1f} |")


def cmd_lag(args):
    print("replica lag while redis-benchmark -P 16 -c 50 SET runs on the master")
    print("| server | rps | median lag bytes | p99 lag bytes | max lag bytes | caught up after load ms |")
    print("|---|---|---|---|---|---|")
    for kind in ("rudis", "redis"):
        master = Server(kind, 0)
        replica = Server(kind, 1, ["--replicaof", "127.0.0.1", str(master.port)])
        wait_link(replica)
        bench = subprocess.Popen(
            ["taskset", "-c", "1", "redis-benchmark", "-p", str(master.port), "-t", "set", "-n",
             str(args.requests), "-P", "16", "-c", "50", "-r", "100000", "-q", "--csv"],
            stdout=subprocess.PIPE, text=True)
        lags = []
        m_conn, r_conn = Conn(master.port), Conn(replica.port)
        while bench.poll() is None:
            # The replica first: the lag read is never less than the real one.
            r = int(r_conn.field("replication", "slave_repl_offset") or 0)
            m = int(m_conn.field("replication", "master_repl_offset") or 0)
            lags.append(max(0, m - r))
            time.sleep(0.005)
        out = bench.stdout.read()
        rps = next((float(l.split(",")[1].strip('"')) for l in out.splitlines() if l.startswith('"SET"')), 0)
        ended = time.time()
        target = int(master.info("replication", "master_repl_offset"))
        while int(replica.info("replication", "slave_repl_offset") or 0) < target:
            time.sleep(0.001)
        caught = (time.time() - ended) * 1000
        lags.sort()
        p99 = lags[int(len(lags) * 0.99)]
        print(f"| {kind} | {rps:.0f} | {statistics.median(lags):.0f} | {p99} | {lags[-1]} | {caught:.0f} |")
        master.stop()
        replica.stop()


def cmd_cpu(args):
    print("master CPU per SET at -P 16 -c 50, by replicas attached (same kind), medians of rounds")
    print("| replicas | rudis rps | redis rps | rudis us/req | redis us/req | CPU ratio |")
    print("|---|---|---|---|---|---|")
    for count in (0, 1, 2):
        figures = {"rudis": [], "redis": []}
        setups = {}
        for kind in ("rudis", "redis"):
            master = Server(kind, 0)
            replicas = [Server(kind, 1, ["--replicaof", "127.0.0.1", str(master.port)]) for _ in range(count)]
            for r in replicas:
                wait_link(r)
            setups[kind] = (master, replicas)
        for _ in range(args.rounds):
            for kind in ("rudis", "redis"):
                master = setups[kind][0]
                before = master.cpu()
                rps = benchmark(master.port, args.requests)
                used = master.cpu() - before
                figures[kind].append((rps, used / args.requests * 1e6))
        for master, replicas in setups.values():
            master.stop()
            for r in replicas:
                r.stop()
        med = lambda kind, i: statistics.median(f[i] for f in figures[kind])
        ratio = med("rudis", 1) / med("redis", 1)
        print(f"| {count} | {med('rudis', 0):.0f} | {med('redis', 0):.0f} | {med('rudis', 1):.3f} | {med('redis', 1):.3f} | {ratio:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sync = sub.add_parser("sync")
    sync.add_argument("--keys", type=int, default=1_000_000)
    sync.add_argument("--rounds", type=int, default=3)
    lag = sub.add_parser("lag")
    lag.add_argument("--requests", type=int, default=2_000_000)
    cpu = sub.add_parser("cpu")
    cpu.add_argument("--requests", type=int, default=1_000_000)
    cpu.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    {"sync": cmd_sync, "lag": cmd_lag, "cpu": cmd_cpu}[args.what](args)


if __name__ == "__main__":
    main()
