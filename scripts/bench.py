#!/usr/bin/env python3
"""Pinned A/B benchmark of rudis against redis-server with redis-benchmark.

Both servers run pinned to CPU 0 and redis-benchmark to CPU 1. For every
test and pipeline depth the servers are measured alternately (A B A B ...)
for --rounds rounds, and the script prints the median requests per second,
p50 and p99 latency of each, the rps ratio, and each server's own CPU time
per request (user+sys from /proc/PID/stat across the run, divided by the
requests): at c=50 redis-benchmark saturates its core, so rps alone hides
how efficient a server is. `wakes/1k` counts the cross-CPU wake-up
interrupts CPU 0 received per 1000 requests (function-call and
rescheduling IPIs in /proc/interrupts): each one is a moment the server
slept and a client's write had to wake it, which the client pays for.

    scripts/bench.py                                  # PING_INLINE, PING_MBULK at -P 1 and -P 16
    scripts/bench.py --tests set,get --pipelines 16 --requests 1000000 --keyspace 1000000
    scripts/bench.py --command "ZRANGE myzset 0 99" --pipelines 1   # any command
    scripts/bench.py --floor      # also scripts/pong_floor.c, what PING costs with no server logic
    scripts/bench.py --script "return redis.call('INCR', KEYS[1])" --command "EVALSHA {sha} 1 counter"
    scripts/bench.py --library @scripts/bench_library.lua --command "FCALL incr 1 counter"
    scripts/bench.py --setup "SETBIT bits 838860799 1" --command "BITCOUNT bits" --requests 2000
    scripts/bench.py --baseline /tmp/rudis-main   # also another rudis build, to price a change
    scripts/bench.py --tls /path/to/certs --tests ping_mbulk,set,get   # over TLS
    scripts/bench.py --unix --tests ping_mbulk,set,get   # through each server's unixsocket
    scripts/bench.py --prober     # a lone PING-per-ms client beside 50 clients pipelining PING -P 16

--prober measures what a client that sends one command per round trip pays
for the others' throughput: scripts/prober.c sends a PING every millisecond
(also pinned to CPU 1) while redis-benchmark runs the first of --tests at the
deepest of --pipelines. It runs rudis, rudis with `pipeline-coalesce-us 0`
(no naps, "nonap") and redis-server alternately and prints the prober's
p50/p90/p99 beside the crowd's rps and each server's CPU per request.
"""

import argparse
import csv
import io
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
# The other rudis binary `--baseline` names, if any.
BASELINE = [None]
# --tls: the directory of ca.crt, redis.crt and redis.key, and each
# server's TLS port (the benchmark then runs over TLS).
TLS = {"dir": None, "ports": {}}
# With --unix: each server's socket path, by TCP port.
UNIX = {"on": False, "paths": {}}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc):
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server on port {port} exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not start")


def start(name, port):
    if name == "floor":
        binary = os.path.join(ROOT, "target", "pong_floor")
        subprocess.run(["cc", "-O2", "-o", binary, os.path.join(ROOT, "scripts", "pong_floor.c")], check=True)
        cmd = [binary, str(port)]
    elif name in ("rudis", "base", "nonap"):
        binary = BASELINE[0] if name == "base" else os.path.join(ROOT, "target", "release", "rudis-server")
        cmd = [binary, "--port", str(port), "--save", "", "--loglevel", "warning"]
        if name == "nonap":
            cmd += ["--pipeline-coalesce-us", "0"]
    else:
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
               "--loglevel", "warning"]
    # An empty directory each: no dump.rdb from elsewhere is loaded (it
    # would bring a dataset and a replication backlog with it).
    workdir = tempfile.mkdtemp(prefix=f"bench-{name}-")
    if UNIX["on"] and name != "floor":
        UNIX["paths"][port] = os.path.join(workdir, "server.sock")
        cmd += ["--unixsocket", UNIX["paths"][port]]
    if TLS["dir"] and name != "floor":
        tls_port = free_port()
        TLS["ports"][port] = tls_port
        d = TLS["dir"]
        cmd += ["--tls-port", str(tls_port), "--tls-cert-file", f"{d}/redis.crt",
                "--tls-key-file", f"{d}/redis.key", "--tls-ca-cert-file", f"{d}/ca.crt"]
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL, cwd=workdir)
    proc.workdir = workdir
    wait_listening(port, proc)
    return proc


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 (utime, stime) are at 11 and 12 after the comm field.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu0_wakeups():
    """Function-call and rescheduling interrupts received by CPU 0 so far."""
    total = 0
    with open("/proc/interrupts") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] in ("CAL:", "RES:"):
                total += int(fields[1])
    return total


def memory_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def info_fields(port, section):
    """One INFO section of the server on `port`, as a dict."""
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", section],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)


def run_benchmark(port, pid, test, pipeline, args):
    cmd = ["taskset", "-c", "1", "redis-benchmark", "-p", str(port),
           "-n", str(args.requests), "-c", str(args.clients), "-P", str(pipeline), "--csv"]
    if TLS["dir"]:
        d = TLS["dir"]
        cmd[5] = str(TLS["ports"][port])
        cmd += ["--tls", "--cacert", f"{d}/ca.crt", "--cert", f"{d}/redis.crt", "--key", f"{d}/redis.key"]
    if UNIX["on"]:
        cmd[4:6] = ["-s", UNIX["paths"][port]]
    if args.keyspace:
        cmd += ["-r", str(args.keyspace)]
    if args.datasize:
        cmd += ["-d", str(args.datasize)]
    # A test name, or a whole command line after "cmd:".
    cmd += test[4:].split() if test.startswith("cmd:") else ["-t", test]
    before, wakes_before = cpu_seconds(pid), cpu0_wakeups()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu, wakes = cpu_seconds(pid) - before, cpu0_wakeups() - wakes_before
    rows = list(csv.DictReader(io.StringIO(out)))
    # Some tests run a preparation step first (LRANGE fills a list with
    # LPUSH): keep the row of the test itself, the last one.
    if not rows:
        sys.exit(f"redis-benchmark printed nothing for {test}: {out}")
    row = rows[-1]
    return {
        "rps": float(row["rps"]),
        "p50": float(row["p50_latency_ms"]),
        "p99": float(row["p99_latency_ms"]),
        "cpu_us": cpu * 1e6 / args.requests,
        "wakes": wakes * 1000 / args.requests,
    }


def alternate(servers, names, rounds, measure):
    """Runs measure(port, pid) on each server in turn, rounds times; returns
    every result and each server's medians."""
    results = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            proc, port = servers[name]
            results[name].append(measure(port, proc.pid))
    medians = {name: {k: statistics.median(r[k] for r in results[name]) for k in results[name][0]}
               for name in names}
    return results, medians


def build_prober():
    binary = os.path.join(ROOT, "target", "prober")
    subprocess.run(["cc", "-O2", "-o", binary, os.path.join(ROOT, "scripts", "prober.c")], check=True)
    return binary


def run_mixed(prober, port, pid, test, pipeline, args):
    """The crowd (redis-benchmark) and, once it is under way, the prober."""
    crowd = subprocess.Popen(
        ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-n", str(args.requests),
         "-c", str(args.clients), "-P", str(pipeline), "--csv", "-t", test],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    before = cpu_seconds(pid)
    time.sleep(0.3)
    probe = subprocess.run(["taskset", "-c", "1", prober, str(port), "1000", str(args.probe_seconds)],
                           capture_output=True, text=True, check=True).stdout.split()
    out, _ = crowd.communicate()
    cpu = cpu_seconds(pid) - before
    if crowd.returncode != 0:
        sys.exit(f"redis-benchmark failed on port {port}")
    row = list(csv.DictReader(io.StringIO(out)))[-1]
    return {
        "p50": float(probe[1]), "p90": float(probe[2]), "p99": float(probe[3]), "max": float(probe[4]),
        "samples": int(probe[0]), "rps": float(row["rps"]), "cpu_us": cpu * 1e6 / args.requests,
    }


def mixed(servers, names, args):
    prober = build_prober()
    test = args.tests.split(",")[0]
    pipeline = max(int(p) for p in args.pipelines.split(","))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  prober: PING every 1 ms for {args.probe_seconds} s beside "
          f"{args.clients} clients of -t {test} -P {pipeline}, -n {args.requests}, rounds={args.rounds}")
    print(f"{'server':<8}{'p50 us':>9}{'p90 us':>9}{'p99 us':>9}{'max us':>9}{'crowd rps':>12}{'cpu us/req':>12}")
    results, medians = alternate(servers, names, args.rounds,
                                 lambda port, pid: run_mixed(prober, port, pid, test, pipeline, args))
    for name in names:
        med = medians[name]
        print(f"{name:<8}{med['p50']:>9.1f}{med['p90']:>9.1f}{med['p99']:>9.1f}{med['max']:>9.1f}"
              f"{med['rps']:>12.0f}{med['cpu_us']:>12.3f}")
        for r in results[name]:
            print(f"{'':<8}{r['p50']:>9.1f}{r['p90']:>9.1f}{r['p99']:>9.1f}{r['max']:>9.1f}"
                  f"{r['rps']:>12.0f}{r['cpu_us']:>12.3f}   ({r['samples']} probes)")
    for name in names:
        if name != "redis":
            m, r = medians[name], medians["redis"]
            print(f"{name}/redis: p50 x{m['p50'] / r['p50']:.2f}, p99 x{m['p99'] / r['p99']:.2f}, "
                  f"crowd rps x{m['rps'] / r['rps']:.2f}, cpu per request x{m['cpu_us'] / r['cpu_us']:.2f}")


def prefill_zset(port, members):
    """ZADD bigzset <i> member:<i> for i < members, through redis-cli --pipe."""
    chunks = []
    for start_at in range(0, members, 1000):
        ids = range(start_at, min(members, start_at + 1000))
        parts = [b"ZADD", b"bigzset"] + [x for i in ids for x in (b"%d" % i, b"member:%d" % i)]
        chunks.append(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(chunks), capture_output=True, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", default="ping_inline,ping_mbulk")
    parser.add_argument("--command", help="benchmark this command line instead of --tests")
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keyspace", type=int, default=0, help="redis-benchmark -r")
    parser.add_argument("--datasize", type=int, default=0, help="redis-benchmark -d")
    parser.add_argument("--prefill-zset", type=int, default=0,
                        help="load a sorted set 'bigzset' of N members into both servers first")
    parser.add_argument("--script", help="SCRIPT LOAD this Lua body into both servers first; "
                        "{sha} in --command stands for its SHA-1")
    parser.add_argument("--library", help="FUNCTION LOAD this library (code with its #!lua shebang, "
                        "or @path to a file of it) into both servers first, for FCALL commands")
    parser.add_argument("--setup", action="append", default=[],
                        help="a command line (shell quoting) run with redis-cli on both servers first (repeatable)")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--baseline", help="another rudis-server binary (say, main's build) run alongside, "
                        "so a change's cost shows as rudis/base")
    parser.add_argument("--floor", action="store_true",
                        help="also run scripts/pong_floor.c, a server that only answers PING (ping tests only)")
    parser.add_argument("--tls", metavar="DIR",
                        help="benchmark over TLS: both servers get a tls-port with DIR's ca.crt, "
                        "redis.crt and redis.key, and redis-benchmark connects with --tls")
    parser.add_argument("--prober", action="store_true",
                        help="measure a lone PING-per-ms client beside the pipelining crowd (see above)")
    parser.add_argument("--probe-seconds", type=float, default=3.0)
    parser.add_argument("--nonap", action="store_true",
                        help="also run rudis with pipeline-coalesce-us 0, to weigh the naps")
    parser.add_argument("--unix", action="store_true",
                        help="load the servers through a unixsocket instead of TCP")
    args = parser.parse_args()
    TLS["dir"] = os.path.abspath(args.tls) if args.tls else None
    UNIX["on"] = args.unix
    if args.unix and (args.tls or args.floor or args.prober):
        sys.exit("--unix goes with plain request runs only (no --tls, --floor or --prober)")

    for tool in ("taskset", "redis-benchmark", "redis-server"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (apt-get install util-linux redis-server redis-tools)")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)

    if args.floor and (args.command or any(not t.startswith("ping") for t in args.tests.split(","))):
        sys.exit("--floor answers PING only: use it with --tests ping_inline,ping_mbulk")
    names = ("rudis", "redis", "floor") if args.floor else ("rudis", "redis")
    if args.prober:
        names = ("rudis", "nonap", "redis")
        if args.tests == parser.get_default("tests"):
            args.tests = "ping_mbulk"
        if args.requests == parser.get_default("requests"):
            args.requests = 10_000_000  # the crowd must outlast the prober
    if args.nonap and "nonap" not in names:
        names = names + ("nonap",)
    if args.baseline:
        BASELINE[0] = args.baseline
        names = names + ("base",)
    servers = {}
    for name in names:
        port = free_port()
        servers[name] = (start(name, port), port)
        if args.prefill_zset:
            prefill_zset(port, args.prefill_zset)
        if args.script and name != "floor":
            sha = subprocess.run(["redis-cli", "-p", str(port), "SCRIPT", "LOAD", args.script],
                                 capture_output=True, text=True, check=True).stdout.strip()
            if args.command:
                args.command = args.command.replace("{sha}", sha)
        for line in args.setup if name != "floor" else []:
            subprocess.run(["redis-cli", "-p", str(port)] + shlex.split(line),
                           capture_output=True, text=True, check=True)
        if args.library and name != "floor":
            code = args.library
            if code.startswith("@"):
                code = open(code[1:]).read()
            subprocess.run(["redis-cli", "-p", str(port), "FUNCTION", "LOAD", "REPLACE", code],
                           capture_output=True, text=True, check=True)
    try:
        if args.prober:
            mixed(servers, names, args)
            return
        print(f"# {time.strftime('%Y-%m-%d %H:%M')}  requests={args.requests} clients={args.clients} "
              f"rounds={args.rounds} keyspace={args.keyspace or '-'}")
        header = (f"{'test':<14}{'P':>4}  {'server':<7}{'rps (median)':>14}{'p50 ms':>9}{'p99 ms':>9}"
                  f"{'cpu us/req':>12}{'wakes/1k':>10}")
        print(header)
        tests = [f"cmd:{args.command}"] if args.command else args.tests.split(",")
        for test in tests:
            for pipeline in (int(p) for p in args.pipelines.split(",")):
                _, medians = alternate(servers, names, args.rounds,
                                       lambda port, pid: run_benchmark(port, pid, test, pipeline, args))
                for name in names:
                    med = medians[name]
                    print(f"{test[:14]:<14}{pipeline:>4}  {name:<7}{med['rps']:>14.0f}{med['p50']:>9.3f}"
                          f"{med['p99']:>9.3f}{med['cpu_us']:>12.3f}{med['wakes']:>10.1f}")
                ratio = medians["rudis"]["rps"] / medians["redis"]["rps"]
                cpu_ratio = medians["rudis"]["cpu_us"] / medians["redis"]["cpu_us"]
                print(f"{'':<18}rudis/redis: rps x{ratio:.2f}, cpu per request x{cpu_ratio:.2f}")
                if args.baseline:
                    print(f"{'':<18}rudis/base: rps x{medians['rudis']['rps'] / medians['base']['rps']:.2f}, "
                          f"cpu per request x{medians['rudis']['cpu_us'] / medians['base']['cpu_us']:.2f}")
                if args.nonap:
                    print(f"{'':<18}nonap/redis: rps x{medians['nonap']['rps'] / medians['redis']['rps']:.2f}, "
                          f"cpu per request x{medians['nonap']['cpu_us'] / medians['redis']['cpu_us']:.2f}")
                if args.floor:
                    floor_cpu = medians["floor"]["cpu_us"]
                    print(f"{'':<18}cpu per request over the floor: rudis x{medians['rudis']['cpu_us'] / floor_cpu:.2f}, "
                          f"redis x{medians['redis']['cpu_us'] / floor_cpu:.2f}")
        for name in names:
            print(f"# {name} RSS after the run: {memory_kib(servers[name][0].pid)} KiB")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait()
            shutil.rmtree(proc.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
