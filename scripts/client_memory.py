#!/usr/bin/env python3
"""What an idle connection costs: rudis against redis-server.

Each round starts a fresh server (pinned to CPU 0), notes its RSS, opens
--clients connections that each run one `SET client:<i> <16 bytes>` and
then sit idle, waits for the server's cron to settle (Redis shrinks idle
query buffers there), and notes RSS, `used_memory` and
`mem_clients_normal` again. The servers alternate for --rounds rounds; the
script prints the medians per connection. The figure includes the key each
connection wrote (about 70 bytes in either server).

    scripts/client_memory.py                      # 10,000 connections, 3 rounds
    scripts/client_memory.py --baseline /tmp/rudis-main
"""

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench import free_port, info_fields, memory_kib, wait_listening  # noqa: E402


def measure(cmd, clients):
    port = free_port()
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd + ["--port", str(port), "--save", "",
                             "--maxclients", str(clients + 100), "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        time.sleep(0.3)
        rss_before = memory_kib(proc.pid)
        used_before = int(info_fields(port, "memory")["used_memory"])
        conns = []
        value = b"v" * 16
        for i in range(clients):
            s = socket.create_connection(("127.0.0.1", port))
            key = b"client:%d" % i
            s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%s\r\n" % (len(key), key, value))
            if s.recv(16) != b"+OK\r\n":
                sys.exit("SET failed")
            conns.append(s)
        time.sleep(2.5)  # two cron passes over every client
        fields = info_fields(port, "memory")
        rss_after = memory_kib(proc.pid)
        for s in conns:
            s.close()
        return {
            "rss_b": (rss_after - rss_before) * 1024 / clients,
            "used_b": (int(fields["used_memory"]) - used_before) / clients,
            "clients_b": int(fields.get("mem_clients_normal", 0)) / clients,
        }
    finally:
        proc.terminate()
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="another rudis-server binary run alongside")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.clients + 1000  # each process: the script and the server
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
        except (ValueError, OSError):
            sys.exit(f"need {want} open files (ulimit -n)")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    servers = {
        "rudis": [os.path.join(ROOT, "target", "release", "rudis-server")],
        "redis": ["redis-server", "--appendonly", "no", "--dir", "/tmp"],
    }
    if args.baseline:
        servers["base"] = [args.baseline]
    results = {name: [] for name in servers}
    for _ in range(args.rounds):
        for name, cmd in servers.items():
            results[name].append(measure(cmd, args.clients))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {args.clients} idle connections after one SET each, "
          f"rounds={args.rounds}; bytes per connection (medians)")
    print(f"{'server':<8}{'RSS':>10}{'used_memory':>14}{'mem_clients_normal':>20}")
    for name in servers:
        med = {k: statistics.median(r[k] for r in results[name]) for k in results[name][0]}
        print(f"{name:<8}{med['rss_b']:>10.0f}{med['used_b']:>14.0f}{med['clients_b']:>20.0f}")


if __name__ == "__main__":
    main()
