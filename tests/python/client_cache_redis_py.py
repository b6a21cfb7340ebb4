"""redis-py's client-side cache (RESP3, `cache_config`) against a server:
reads are served from the cache until another client changes the key, a
flush empties it, and a cached value never outlives its invalidation.
Run by tests/tracking.rs with the server's port."""

import sys
import time

import redis
from redis.cache import CacheConfig

PORT = int(sys.argv[1])

# redis-py turns its cache on only for servers that report 7.4 or later;
# rudis reports the 7.0 it is a drop-in for, whose tracking protocol is
# all the cache uses. The gate is lowered to that.
redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"


def wait_for(check):
    for _ in range(100):
        if check():
            return True
        time.sleep(0.01)
    return False


def main():
    cached = redis.Redis(port=PORT, protocol=3, cache_config=CacheConfig())
    other = redis.Redis(port=PORT)
    cache = cached.get_cache()
    other.set("k", "v1")
    other.hset("h", mapping={"f": "1"})
    assert cached.get("k") == b"v1"
    assert cached.hget("h", "f") == b"1"
    assert cache.size == 2, cache.size
    # Served from the cache: the server sees no second GET.
    before = int(other.info("stats")["total_commands_processed"])
    for _ in range(10):
        assert cached.get("k") == b"v1"
    after = int(other.info("stats")["total_commands_processed"])
    assert after - before == 1, (before, after)  # the INFO itself
    # Another client's write invalidates; the next read goes to the server.
    other.set("k", "v2")
    assert wait_for(lambda: cached.get("k") == b"v2")
    # Expiry invalidates too.
    other.set("t", "x", px=50)
    assert cached.get("t") == b"x"
    time.sleep(0.3)
    assert wait_for(lambda: cached.get("t") is None)
    # A flush empties the cache.
    other.flushall()
    assert wait_for(lambda: cached.hget("h", "f") is None)
    assert cached.get("k") is None
    print("ok")


main()
