"""redis-py's Sentinel client finds the master Sentinel names and writes
to it; its replica reads what was written. Argument: the Sentinel port."""
import sys
import time

from redis.sentinel import MasterNotFoundError, Sentinel

sentinel = Sentinel([("127.0.0.1", int(sys.argv[1]))], socket_timeout=2)
# Right after a failover Sentinel may still be checking the new master.
deadline = time.time() + 15
while True:
    try:
        print("master:", sentinel.discover_master("mymaster"))
        break
    except MasterNotFoundError:
        assert time.time() < deadline, sentinel.sentinels[0].sentinel_masters()
        time.sleep(0.2)
master = sentinel.master_for("mymaster", socket_timeout=2)
for i in range(100):
    master.set(f"py{i}", i)
assert master.execute_command("WAIT", 1, 5000) >= 1
replica = sentinel.slave_for("mymaster", socket_timeout=2)
deadline = time.time() + 10
while replica.get("py99") != b"99":
    assert time.time() < deadline, "the replica never saw the writes"
    time.sleep(0.05)
print("ok")
