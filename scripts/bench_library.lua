#!lua name=bench
-- The library scripts/bench.py loads for FCALL figures: one call, ten
-- calls, and a read-only function.
redis.register_function('incr', function(keys, args)
    return redis.call('INCR', keys[1])
end)
redis.register_function('incr10', function(keys, args)
    local n
    for _ = 1, 10 do
        n = redis.call('INCR', keys[1])
    end
    return n
end)
redis.register_function{function_name = 'peek', flags = {'no-writes'}, callback = function(keys, args)
    return redis.call('GET', keys[1])
end}
