"""redis-py's scripting users against a server: the Lock (acquire,
extend, release, contention between two clients, expiry) and
register_script (EVALSHA with the EVAL fallback after SCRIPT FLUSH).
Run by tests/scripting.rs with the server's port."""

import sys
import threading
import time

import redis
from redis.exceptions import LockError, LockNotOwnedError

PORT = int(sys.argv[1])


def locks():
    a = redis.Redis(port=PORT)
    b = redis.Redis(port=PORT)
    lock_a = a.lock("resource", timeout=5)
    lock_b = b.lock("resource", timeout=5, blocking_timeout=0.2)
    assert lock_a.acquire(blocking=False)
    assert not lock_b.acquire()
    assert lock_a.owned()
    assert lock_a.extend(10)
    assert 9000 < a.pttl("resource") <= 15000
    assert lock_a.reacquire()
    lock_a.release()
    assert lock_b.acquire()
    try:
        lock_a.release()
        raise AssertionError("released a lock it does not own")
    except LockError:
        pass
    lock_b.release()
    # A lock that expired cannot be extended by its old owner.
    short = a.lock("short", timeout=0.05)
    assert short.acquire()
    time.sleep(0.2)
    try:
        short.extend(1)
        raise AssertionError("extended an expired lock")
    except LockNotOwnedError:
        pass
    # Contention: ten threads increment under the lock.
    counter_key = "counter"
    a.set(counter_key, 0)

    def worker():
        r = redis.Redis(port=PORT)
        for _ in range(20):
            with r.lock("contended", timeout=5, sleep=0.001):
                value = int(r.get(counter_key))
                r.set(counter_key, value + 1)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(a.get(counter_key)) == 200, a.get(counter_key)


def registered_scripts():
    r = redis.Redis(port=PORT)
    add = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert add(keys=["n"], args=[5]) == 5
    assert add(keys=["n"], args=[2]) == 7
    r.script_flush()
    assert add(keys=["n"], args=[1]) == 8
    assert r.script_exists(add.sha) == [True]
    pipe = r.pipeline()
    add(keys=["n"], args=[1], client=pipe)
    add(keys=["n"], args=[1], client=pipe)
    assert pipe.execute() == [9, 10]


locks()
registered_scripts()
print("ok")
