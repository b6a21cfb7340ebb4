#!/bin/bash
# Usage: scripts/aof_bench.sh (needs a release build and redis-server). The CPU
# column is in nanoseconds per request: clock ticks are 10 ms.
# rudis vs redis-server alternately, SET -P 16 -r 1000000, per appendfsync mode.
for mode in off everysec always; do
 for round in 1 2; do
  for srv in rudis redis; do
   d=/tmp/bench/$srv-$mode-$round; rm -rf $d; mkdir -p $d
   if [ $mode = off ]; then extra="--appendonly no"; else extra="--appendonly yes --appendfsync $mode"; fi
   if [ $srv = rudis ]; then bin=/work/main/target/release/rudis-server; else bin=redis-server; fi
   taskset -c 0 $bin --port 7499 --dir $d --save '' $extra --loglevel warning >/dev/null 2>&1 &
   pid=$!; sleep 0.4
   t0=$(awk '{print $14+$15}' /proc/$pid/stat)
   n=400000; [ $mode = always ] && n=100000
   rps=$(taskset -c 1 redis-benchmark -p 7499 -t set -P 16 -r 1000000 -n $n -c 50 -q 2>/dev/null | grep -o '[0-9.]* requests per second' | head -1 | cut -d' ' -f1)
   t1=$(awk '{print $14+$15}' /proc/$pid/stat)
   us=$(python3 -c "print(round(($t1-$t0)*10000/$n*1000,2))")
   echo "$mode $round $srv rps=$rps cpu_ns_per_req=$us"
   kill $pid; wait $pid 2>/dev/null
  done
 done
done
