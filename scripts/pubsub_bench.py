#!/usr/bin/env python3
"""Pub/Sub fan-out, rudis vs redis-server: one publisher, one channel, N
subscribers that read everything.

Usage: scripts/pubsub_bench.py [subscribers] [messages] [rounds]
(needs `cargo build --release`, redis-server and redis-benchmark)

The server runs on CPU 0; the subscribers (this script, reading with
selectors) and the publisher (`redis-benchmark -c 1 -P 16 PUBLISH ...`) on
CPU 1. Reported per run: messages delivered per second (as counted by the
subscribers) and the server's CPU per delivered message (user+sys from
/proc/PID/stat).
"""

import os
import selectors
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 7494
CLK_TCK = os.sysconf("SC_CLK_TCK")


def start(server):
    binary = os.path.join(ROOT, "target/release/rudis-server") if server == "rudis" else "redis-server"
    proc = subprocess.Popen(["taskset", "-c", "0", binary, "--port", str(PORT), "--save", "",
                             "--appendonly", "no", "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", PORT)).close()
            return proc
        except OSError:
            time.sleep(0.02)
    sys.exit("server did not start")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def one_run(server, subscribers, messages):
    proc = start(server)
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(subscribers):
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(b"SUBSCRIBE ch\r\n")
        socks.append(s)
    # Read the subscription confirmations.
    for s in socks:
        s.recv(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    frame = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n"
    expected = len(frame) * messages * subscribers
    ticks0 = cpu_ticks(proc.pid)
    began = time.monotonic()
    publisher = subprocess.Popen(
        ["taskset", "-c", "1", "redis-benchmark", "-p", str(PORT), "-c", "1", "-P", "16",
         "-n", str(messages), "PUBLISH", "ch", "hello"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    received = 0
    deadline = began + 120
    while received < expected and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            try:
                data = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            received += len(data)
    elapsed = time.monotonic() - began
    ticks = cpu_ticks(proc.pid) - ticks0
    publisher.wait()
    for s in socks:
        s.close()
    proc.terminate()
    proc.wait()
    delivered = received // len(frame)
    return delivered / elapsed, ticks / CLK_TCK * 1e9 / max(delivered, 1), delivered


def main():
    subscribers = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    messages = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    os.sched_setaffinity(0, {1})
    results = {"rudis": [], "redis": []}
    for r in range(rounds):
        for server in ("rudis", "redis"):
            rate, ns, delivered = one_run(server, subscribers, messages)
            results[server].append((rate, ns))
            print(f"round {r + 1} {server}: {rate:,.0f} deliveries/s, "
                  f"{ns:.0f} ns server CPU per delivery ({delivered} delivered)", flush=True)
    for server, runs in results.items():
        print(f"{server}: median {statistics.median(x[0] for x in runs):,.0f} deliveries/s, "
              f"{statistics.median(x[1] for x in runs):.0f} ns per delivery")
    ratio = statistics.median(x[1] for x in results["rudis"]) / statistics.median(x[1] for x in results["redis"])
    print(f"CPU per delivery, rudis / redis: {ratio:.2f}x")


if __name__ == "__main__":
    main()
