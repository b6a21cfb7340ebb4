"""redis-py's pub/sub API against a server: sync and asyncio, RESP2 and
RESP3. Run by tests/pubsub.rs with the server's port; exits non-zero on
any difference from what redis-py gets from Redis."""

import asyncio
import sys
import time

import redis
import redis.asyncio as aioredis

PORT = int(sys.argv[1])


def sync_api(protocol):
    r = redis.Redis(port=PORT, protocol=protocol)
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    assert p.get_message(timeout=1)["type"] == "subscribe"
    assert p.get_message(timeout=1)["type"] == "psubscribe"
    assert r.publish("news", "hello") == 2
    got = [p.get_message(timeout=1) for _ in range(2)]
    kinds = sorted(m["type"] for m in got)
    assert kinds == ["message", "pmessage"], got
    assert all(m["data"] == b"hello" for m in got), got
    assert r.pubsub_numsub("news") == [(b"news", 1)]
    assert r.pubsub_numpat() == 1
    assert r.pubsub_channels() == [b"news"]
    p.unsubscribe()
    p.punsubscribe()
    assert p.get_message(timeout=1)["type"] == "unsubscribe"
    assert p.get_message(timeout=1)["type"] == "punsubscribe"
    # A handler thread, as applications use it.
    seen = []
    p2 = r.pubsub()
    p2.subscribe(**{"jobs": lambda m: seen.append(m["data"])})
    thread = p2.run_in_thread(sleep_time=0.01)
    time.sleep(0.1)
    r.publish("jobs", "one")
    r.publish("jobs", "two")
    deadline = time.time() + 2
    while len(seen) < 2 and time.time() < deadline:
        time.sleep(0.01)
    thread.stop()
    thread.join(timeout=2)
    assert seen == [b"one", b"two"], seen
    p.close()
    p2.close()
    r.close()


async def async_api(protocol):
    r = aioredis.Redis(port=PORT, protocol=protocol)
    p = r.pubsub()
    await p.subscribe("events")
    msg = await p.get_message(timeout=1)
    assert msg["type"] == "subscribe", msg
    assert await r.publish("events", "payload") == 1
    msg = None
    for _ in range(20):
        msg = await p.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if msg:
            break
    assert msg and msg["data"] == b"payload", msg
    await p.unsubscribe("events")
    await p.aclose()
    await r.aclose()


for protocol in (2, 3):
    sync_api(protocol)
    asyncio.run(async_api(protocol))
print("ok")
