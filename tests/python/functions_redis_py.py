"""redis-py's function API against a server: function_load (and
REPLACE), fcall / fcall_ro, function_list with and without code,
function_dump / function_restore, function_stats, function_delete and
function_flush, in RESP2 and RESP3. Run by tests/functions.rs with the
server's port."""

import sys

import redis
from redis.exceptions import ResponseError

PORT = int(sys.argv[1])

LIBRARY = """#!lua name=ratelimit
local function hit(keys, args)
    local count = redis.call('INCR', keys[1])
    if count == 1 then
        redis.call('PEXPIRE', keys[1], args[1])
    end
    return count
end
local function peek(keys, args)
    return tonumber(redis.call('GET', keys[1]) or '0')
end
redis.register_function('hit', hit)
redis.register_function{function_name='peek', callback=peek, flags={'no-writes'}}
"""


def check(protocol):
    r = redis.Redis(port=PORT, protocol=protocol, decode_responses=True)
    r.function_flush()
    r.delete("rl")
    assert r.function_load(LIBRARY) == "ratelimit"
    try:
        r.function_load(LIBRARY)
        raise AssertionError("a second load must fail")
    except ResponseError as e:
        assert "already exists" in str(e)
    assert r.function_load(LIBRARY, replace=True) == "ratelimit"
    assert [r.fcall("hit", 1, "rl", 1000) for _ in range(3)] == [1, 2, 3]
    assert 0 < r.pttl("rl") <= 1000
    assert r.fcall_ro("peek", 1, "rl") == 3
    try:
        r.fcall_ro("hit", 1, "rl", 1000)
        raise AssertionError("fcall_ro of a writing function must fail")
    except ResponseError as e:
        assert "write flag" in str(e)
    listing = r.function_list(withcode=True)
    assert len(listing) == 1
    entry = listing[0]
    if isinstance(entry, list):
        entry = dict(zip(entry[::2], entry[1::2]))
    assert entry["library_name"] == "ratelimit"
    assert entry["library_code"] == LIBRARY
    assert len(entry["functions"]) == 2
    payload = redis.Redis(port=PORT, protocol=protocol).function_dump()
    r.function_flush()
    assert r.function_list() == []
    assert r.function_restore(payload)
    assert r.fcall("peek", 1, "rl") == 3
    stats = r.function_stats()
    if isinstance(stats, list):
        stats = dict(zip(stats[::2], stats[1::2]))
    assert stats["running_script"] is None
    assert r.function_delete("ratelimit")
    try:
        r.fcall("hit", 1, "rl", 1000)
        raise AssertionError("a deleted function must not run")
    except ResponseError as e:
        assert "Function not found" in str(e)


check(2)
check(3)
print("ok")
