#!/usr/bin/env python3
"""Active expiry under load: writes N keys with a 1 s TTL, never touches
them again, and watches DBSIZE and used_memory come back down while
`redis-cli --latency` measures how long the loop stalls.

Runs against rudis and redis-server in turn (each pinned to CPU 0; the
clients on CPU 1) and prints, per server, the time until DBSIZE reached 0,
used_memory before and after, and the latency samples during the sweep.

    scripts/expire_bench.py --keys 1000000
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, free_port, start  # noqa: E402


def info_field(port, field):
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "memory"], capture_output=True, text=True).stdout
    match = re.search(rf"^{field}:(\d+)", out, re.M)
    return int(match.group(1)) if match else -1


def dbsize(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True, text=True).stdout
    return int(out.strip() or -1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)

    with tempfile.NamedTemporaryFile(suffix=".resp", delete=False) as f:
        for i in range(args.keys):
            key = b"ttl:%d" % i
            f.write(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nx\r\n$2\r\nPX\r\n$4\r\n1000\r\n" % (len(key), key))
        pipe_file = f.name

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {args.keys} keys with a 1000 ms TTL, written by redis-cli --pipe")
    print(f"{'server':<8}{'written s':>10}{'mem before':>14}{'gone after s':>14}{'mem after':>12}"
          f"{'latency min/max/avg ms (samples)':>36}")
    for name in ("rudis", "redis"):
        port = free_port()
        proc = start(name, port)
        try:
            baseline = info_field(port, "used_memory")
            t0 = time.time()
            with open(pipe_file, "rb") as data:
                subprocess.run(["taskset", "-c", "1", "redis-cli", "-p", str(port), "--pipe"], stdin=data,
                               capture_output=True, check=True)
            written = time.time() - t0
            peak = info_field(port, "used_memory")
            latency = subprocess.Popen(["taskset", "-c", "1", "timeout", "6", "redis-cli", "-p", str(port),
                                        "--latency"], stdout=subprocess.PIPE, text=True)
            gone_at = None
            while time.time() - t0 < 30:
                if dbsize(port) == 0:
                    gone_at = time.time() - t0
                    break
                time.sleep(0.05)
            after = info_field(port, "used_memory")
            lat = latency.communicate()[0].split()
            lat_text = f"{lat[0]}/{lat[1]}/{lat[2]} ({lat[3]})" if len(lat) == 4 else "n/a"
            gone = f"{gone_at:.2f}" if gone_at is not None else ">30"
            print(f"{name:<8}{written:>10.2f}{peak - baseline:>14}{gone:>14}{after - baseline:>12}{lat_text:>36}")
        finally:
            proc.terminate()
            proc.wait()
    os.unlink(pipe_file)


if __name__ == "__main__":
    main()
