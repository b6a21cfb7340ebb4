#!/usr/bin/env python3
"""Pub/Sub fan-out, rudis vs redis-server: one publisher, one channel, N
subscribers that read everything.

Usage: scripts/pubsub_bench.py [subscribers] [messages] [rounds]
       scripts/pubsub_bench.py --wide [rounds]
       scripts/pubsub_bench.py --keyspace [rounds]
       scripts/pubsub_bench.py --bcast [rounds]
(needs `cargo build --release`, redis-server and redis-benchmark)

--wide: 10,000 channels with one subscriber each and 1,000 patterns (that
match nothing) held by one more client; `redis-benchmark -P 16 -c 50
PUBLISH ch:__rand_int__ hello` over the 10,000 channels: PUBLISH rps and
server CPU per request. It also reports memory per subscription
(used_memory before and after subscribing).

--keyspace: `notify-keyspace-events KEA` with one client subscribed to
`__key*__:*`, reading everything; `redis-benchmark -P 16 -c 50 -t set`
over 100,000 keys: SET rps and server CPU per SET (two messages each).
--bcast: one RESP3 client with `CLIENT TRACKING on BCAST` (every key),
reading its invalidations, under the same SET load.

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


def start(server, extra=()):
    binary = os.path.join(ROOT, "target/release/rudis-server") if server == "rudis" else "redis-server"
    proc = subprocess.Popen(["taskset", "-c", "0", binary, "--port", str(PORT), "--save", "",
                             "--appendonly", "no", "--loglevel", "warning", "--maxclients", "15000",
                             *extra],
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


def used_memory():
    s = socket.create_connection(("127.0.0.1", PORT))
    s.sendall(b"INFO memory\r\n")
    time.sleep(0.1)
    text = s.recv(1 << 16).decode(errors="replace")
    s.close()
    for line in text.splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    return 0


def wide_run(server):
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    proc = start(server)
    before = used_memory()
    socks = []
    for i in range(10_000):
        s = socket.create_connection(("127.0.0.1", PORT))
        s.sendall(b"SUBSCRIBE ch:%012d\r\n" % i)
        socks.append(s)
    patterns = socket.create_connection(("127.0.0.1", PORT))
    patterns.sendall(b"PSUBSCRIBE " + b" ".join(b"nomatch%d:*" % i for i in range(1000)) + b"\r\n")
    time.sleep(1.0)
    per_subscription = (used_memory() - before) / 11_000
    for s in socks:
        s.setblocking(False)
    requests = 500_000
    ticks0 = cpu_ticks(proc.pid)
    out = subprocess.run(
        ["taskset", "-c", "1", "redis-benchmark", "-p", str(PORT), "-c", "50", "-P", "16",
         "-r", "10000", "-n", str(requests), "-q", "PUBLISH", "ch:__rand_int__", "hello"],
        capture_output=True, text=True).stdout
    ticks = cpu_ticks(proc.pid) - ticks0
    rps = float(out.split("requests per second")[0].split()[-1]) if "requests per second" in out else 0.0
    for s in socks:
        s.close()
    patterns.close()
    proc.terminate()
    proc.wait()
    return rps, ticks / CLK_TCK * 1e9 / requests, per_subscription


def drain_forever(sock):
    """Reads and discards everything: a subscriber that keeps up."""
    try:
        while sock.recv(1 << 20):
            pass
    except OSError:
        pass


def events_run(server, mode):
    import threading
    extra = ["--notify-keyspace-events", "KEA"] if mode == "--keyspace" else []
    proc = start(server, extra)
    listener = socket.create_connection(("127.0.0.1", PORT))
    if mode == "--keyspace":
        listener.sendall(b"PSUBSCRIBE __key*__:*\r\n")
    else:
        listener.sendall(b"HELLO 3\r\nCLIENT TRACKING on BCAST\r\n")
    time.sleep(0.2)
    threading.Thread(target=drain_forever, args=(listener,), daemon=True).start()
    requests = 2_000_000
    ticks0 = cpu_ticks(proc.pid)
    out = subprocess.run(
        ["taskset", "-c", "1", "redis-benchmark", "-p", str(PORT), "-c", "50", "-P", "16",
         "-r", "100000", "-n", str(requests), "-q", "-t", "set"],
        capture_output=True, text=True).stdout
    ticks = cpu_ticks(proc.pid) - ticks0
    rps = float(out.split("requests per second")[0].split()[-1]) if "requests per second" in out else 0.0
    listener.close()
    proc.terminate()
    proc.wait()
    return rps, ticks / CLK_TCK * 1e9 / requests


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("--keyspace", "--bcast"):
        mode = sys.argv[1]
        rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
        os.sched_setaffinity(0, {1})
        results = {"rudis": [], "redis": []}
        for r in range(rounds):
            for server in ("rudis", "redis"):
                rps, ns = events_run(server, mode)
                results[server].append((rps, ns))
                print(f"round {r + 1} {server}: {rps:,.0f} SET/s, {ns:.0f} ns CPU per SET", flush=True)
        for server, runs in results.items():
            print(f"{server}: median {statistics.median(x[0] for x in runs):,.0f} SET/s, "
                  f"{statistics.median(x[1] for x in runs):.0f} ns per SET")
        ratio = statistics.median(x[1] for x in results["rudis"]) / statistics.median(x[1] for x in results["redis"])
        print(f"CPU per SET, rudis / redis: {ratio:.2f}x")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--wide":
        rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
        os.sched_setaffinity(0, {1})
        results = {"rudis": [], "redis": []}
        for r in range(rounds):
            for server in ("rudis", "redis"):
                rps, ns, mem = wide_run(server)
                results[server].append((rps, ns, mem))
                print(f"round {r + 1} {server}: {rps:,.0f} PUBLISH/s, {ns:.0f} ns CPU per PUBLISH, "
                      f"{mem:.0f} bytes per subscription", flush=True)
        for server, runs in results.items():
            print(f"{server}: median {statistics.median(x[0] for x in runs):,.0f} PUBLISH/s, "
                  f"{statistics.median(x[1] for x in runs):.0f} ns per PUBLISH, "
                  f"{statistics.median(x[2] for x in runs):.0f} bytes per subscription")
        return
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
