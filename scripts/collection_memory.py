#!/usr/bin/env python3
"""Memory of big collections: fills one list, hash, set and sorted set of
N elements each (through redis-cli --pipe, 1000 elements per command) in
rudis and in redis-server, and prints the used_memory each one added.

    scripts/collection_memory.py --elements 1000000
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, free_port, start  # noqa: E402
from expire_bench import info_field  # noqa: E402


def command(*args):
    out = b"*%d\r\n" % len(args)
    for arg in args:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


def fill_file(kind, n):
    f = tempfile.NamedTemporaryFile(suffix=".resp", delete=False)
    for start_at in range(0, n, 1000):
        members = [b"member:%d" % i for i in range(start_at, min(n, start_at + 1000))]
        if kind == "list":
            f.write(command(b"RPUSH", b"biglist", *members))
        elif kind == "hash":
            f.write(command(b"HSET", b"bighash", *[x for m in members for x in (m, b"value")]))
        elif kind == "set":
            f.write(command(b"SADD", b"bigset", *members))
        else:
            f.write(command(b"ZADD", b"bigzset", *[x for i, m in enumerate(members) for x in (b"%d" % (start_at + i), m)]))
    f.close()
    return f.name


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elements", type=int, default=1_000_000)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    kinds = ["list", "hash", "set", "zset"]
    files = {kind: fill_file(kind, args.elements) for kind in kinds}
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  one collection of {args.elements} elements each (member:N)")
    print(f"{'type':<6}{'rudis bytes':>14}{'redis bytes':>14}{'ratio':>8}")
    results = {}
    for name in ("rudis", "redis"):
        port = free_port()
        proc = start(name, port)
        try:
            for kind in kinds:
                before = info_field(port, "used_memory")
                with open(files[kind], "rb") as data:
                    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=data, capture_output=True, check=True)
                results[(name, kind)] = info_field(port, "used_memory") - before
        finally:
            proc.terminate()
            proc.wait()
    for kind in kinds:
        ours, theirs = results[("rudis", kind)], results[("redis", kind)]
        print(f"{kind:<6}{ours:>14}{theirs:>14}{ours / theirs:>8.2f}")
    for path in files.values():
        os.unlink(path)


if __name__ == "__main__":
    main()
