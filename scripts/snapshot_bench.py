#!/usr/bin/env python3
"""Snapshot figures for 1M keys of mixed types, rudis vs redis-server.

Usage: scripts/snapshot_bench.py [rounds]   (needs `cargo build --release`,
redis-server, redis-cli and redis-benchmark on PATH)

For each server, alternately: fill it with the same 1M keys (strings,
small hashes, lists, sets and sorted sets, and a few big ones), start a
write load that overwrites existing strings, BGSAVE, and measure
  - BGSAVE wall time (BGSAVE sent until rdb_bgsave_in_progress:0),
  - peak parent RSS and peak child private memory (the pages copy-on-write
    made the child's own) while the save runs,
  - the dump's size,
  - load time at start (process start until PING answers PONG) and the
    server's own "DB loaded from disk" figure,
  - RSS once loaded.
The server runs on CPU 0, the load generator and this script on CPU 1.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUDIS = os.path.join(ROOT, "target/release/rudis-server")
PORT = 7498
WORK = "/tmp/rudis-snapshot-bench"
STRINGS, SMALL = 500_000, 125_000


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def dataset(path):
    """1M keys; the strings are named as redis-benchmark's __rand_int__
    names them, so its load overwrites existing keys."""
    if os.path.exists(path):
        return
    with open(path, "wb") as f:
        for i in range(STRINGS):
            value = i if i % 2 else f"value-{i}-{'x' * (i % 40)}"
            f.write(resp("SET", f"s:{i:012d}", value))
        for i in range(SMALL):
            f.write(resp("HSET", f"h:{i}", "name", f"n{i}", "age", i % 90, "city", "somewhere"))
            f.write(resp("RPUSH", f"l:{i}", "a", "bb", i, "dddd"))
            f.write(resp("SADD", f"st:{i}", 1, 2, i))
            f.write(resp("ZADD", f"z:{i}", 1, "a", 2.5, "b", i, "c"))
        # Big values, held in their large encodings.
        for j in range(0, 100_000, 1000):
            fields = []
            for k in range(j, j + 1000):
                fields += [f"f{k}", f"v{k}"]
            f.write(resp("HSET", "big:hash", *fields))
            f.write(resp("ZADD", "big:zset", *[x for k in range(j, j + 1000) for x in (k, f"m{k}")]))
            f.write(resp("SADD", "big:set", *[f"e{k}" for k in range(j, j + 1000)]))
            f.write(resp("RPUSH", "big:list", *[f"item{k}" for k in range(j, j + 1000)]))


def cli(*args):
    return subprocess.run(["redis-cli", "-p", str(PORT), *map(str, args)],
                          capture_output=True, text=True).stdout


def info(field):
    m = re.search(rf"^{field}:(\S+)", cli("info", "everything"), re.M)
    return m.group(1) if m else None


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    except (OSError, AttributeError):
        return 0


def private_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
        return sum(int(x) for x in re.findall(r"Private_(?:Clean|Dirty):\s+(\d+)", text))
    except OSError:
        return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def start(server, directory):
    binary = RUDIS if server == "rudis" else "redis-server"
    log = os.path.join(directory, "server.log")
    proc = subprocess.Popen(
        ["taskset", "-c", "0", binary, "--port", str(PORT), "--dir", directory,
         "--save", "", "--appendonly", "no", "--logfile", log, "--loglevel", "notice"])
    began = time.monotonic()
    while cli("ping").strip() != "PONG":
        time.sleep(0.005)
    return proc, time.monotonic() - began, log


def stop(proc):
    cli("shutdown", "nosave")
    proc.wait()


def one_run(server, data):
    directory = os.path.join(WORK, server)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    proc, _, _ = start(server, directory)
    pid = int(info("process_id"))
    with open(data, "rb") as f:
        subprocess.run(["taskset", "-c", "1", "redis-cli", "-p", str(PORT), "--pipe"],
                       stdin=f, capture_output=True, check=True)
    keys = int(re.search(r"keys=(\d+)", info("db0")).group(1))
    rss_filled = rss_kb(pid)
    load = subprocess.Popen(
        ["taskset", "-c", "1", "redis-benchmark", "-p", str(PORT), "-P", "16", "-c", "10",
         "-r", str(STRINGS), "-n", "100000000", "set", "s:__rand_int__", "overwritten"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    began = time.monotonic()
    cli("bgsave")
    parent_peak = child_peak = 0
    while True:
        parent_peak = max(parent_peak, rss_kb(pid))
        for child in children(pid):
            child_peak = max(child_peak, private_kb(child))
        if info("rdb_bgsave_in_progress") == "0":
            break
        time.sleep(0.01)
    bgsave_s = time.monotonic() - began
    load.terminate()
    load.wait()
    status = info("rdb_last_bgsave_status")
    cow = int(info("rdb_last_cow_size")) // 1024
    stop(proc)
    size = os.path.getsize(os.path.join(directory, "dump.rdb"))
    proc, load_s, log = start(server, directory)
    rss_loaded = rss_kb(int(info("process_id")))
    stop(proc)
    with open(log) as f:
        logged = re.findall(r"DB loaded from disk: ([0-9.]+) seconds", f.read())
    return {
        "keys": keys, "status": status, "bgsave_s": bgsave_s,
        "rss_filled_mb": rss_filled / 1024, "parent_peak_mb": parent_peak / 1024,
        "child_private_peak_mb": child_peak / 1024, "cow_mb": cow / 1024,
        "file_mb": size / 2**20, "load_s": load_s,
        "logged_load_s": float(logged[-1]) if logged else float("nan"),
        "rss_loaded_mb": rss_loaded / 1024,
    }


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    os.makedirs(WORK, exist_ok=True)
    data = os.path.join(WORK, "dataset.resp")
    dataset(data)
    os.sched_setaffinity(0, {1})
    results = {"rudis": [], "redis": []}
    for r in range(rounds):
        for server in ("rudis", "redis"):
            result = one_run(server, data)
            results[server].append(result)
            print(f"round {r + 1} {server}: " +
                  " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in result.items()), flush=True)
    print("\nmedians (rudis / redis = ratio)")
    for key, value in results["rudis"][0].items():
        if isinstance(value, str):
            continue
        a = statistics.median(x[key] for x in results["rudis"])
        b = statistics.median(x[key] for x in results["redis"])
        ratio = a / b if b else float("nan")
        print(f"  {key:24} {a:10.3f} {b:10.3f}  {ratio:.2f}x")


if __name__ == "__main__":
    main()
