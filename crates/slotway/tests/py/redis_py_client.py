#!/usr/bin/env python3
"""redis-py 8 as a plain (non-cluster) client of the Slotway proxy.

Usage: redis_py_client.py PORT PROTO
  PROTO 3: redis-py's default protocol (RESP3 in 8.x), *not* passed to the
           client, so the default itself is exercised;
  PROTO 2: protocol=2 passed explicitly.

Prints "ok" last and exits 0 when every check passes; prints the failed
check and exits 1 otherwise; exits 3 when redis-py cannot be imported.
Run by crates/slotway/tests/clients.rs against a proxy on 127.0.0.1:PORT.
"""

import sys

from pycheck import check, eq, redis, run  # exits 3 without redis-py
from redis.crc import key_slot


def keys_str(d):
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


BINARY = b"\x00\r\nbin\xff\r\n$-1\r\n*2\r\n\x00"


def check_protocol(r, proto):
    """The connection really speaks `proto` on the wire."""
    user_proto = r.connection_pool.connection_kwargs.get("protocol")
    if proto == 3:
        eq(user_proto, None, "protocol kwarg (the default must be exercised)")
    else:
        eq(user_proto, 2, "protocol kwarg")
    conn = r.connection_pool.get_connection()
    try:
        eq(int(conn.protocol), proto, "connection protocol")
        if proto == 3:
            hs = keys_str(conn.handshake_metadata or {})
            eq(hs.get("proto"), 3, f"HELLO reply on connect {hs!r}")
            eq(hs.get("mode"), b"standalone", "HELLO mode")
        else:
            eq(conn.handshake_metadata, None, "no HELLO over RESP2")
        # Raw parser output, without redis-py's response callbacks.
        conn.send_command("HSET", "py:raw:h", "f", "v")
        eq(conn.read_response(), 1, "raw HSET")
        conn.send_command("HGETALL", "py:raw:h")
        raw = conn.read_response()
        if proto == 3:
            eq(raw, {b"f": b"v"}, "raw HGETALL is a RESP3 map")
        else:
            eq(raw, [b"f", b"v"], "raw HGETALL is a RESP2 array")
        conn.send_command("ZADD", "py:raw:z", "1.5", "m")
        eq(conn.read_response(), 1, "raw ZADD")
        conn.send_command("ZSCORE", "py:raw:z", "m")
        raw = conn.read_response()
        if proto == 3:
            check(isinstance(raw, float) and raw == 1.5, f"raw ZSCORE is a RESP3 double: {raw!r}")
        else:
            eq(raw, b"1.5", "raw ZSCORE is a RESP2 bulk string")
        conn.send_command("GET", "py:raw:none")
        eq(conn.read_response(), None, "raw GET of a missing key")
    finally:
        r.connection_pool.release(conn)
    # HELLO without a version only reports (protocol unchanged).
    hello = r.execute_command("HELLO")
    if isinstance(hello, list):
        hello = dict(zip(hello[::2], hello[1::2]))
    hello = keys_str(hello)
    eq(hello.get("proto"), proto, f"HELLO {hello!r}")
    eq(hello.get("server"), b"redis", "HELLO server")


def check_types(r):
    # Connection-level commands; CLIENT SETNAME/SETINFO were sent on connect.
    eq(r.ping(), True, "PING")
    eq(r.echo("hi"), b"hi", "ECHO")
    eq(r.client_getname(), "slotway-py", "CLIENT GETNAME after client_name=")
    eq(r.client_setinfo("LIB-NAME", "slotway-test"), True, "CLIENT SETINFO")

    # Strings.
    eq(r.set("py:s", "hello"), True, "SET")
    eq(r.get("py:s"), b"hello", "GET")
    eq(r.get("py:missing"), None, "GET missing")
    eq(r.append("py:s", " world"), 11, "APPEND")
    eq(r.strlen("py:s"), 11, "STRLEN")
    eq(r.incr("py:n"), 1, "INCR")
    eq(r.incrby("py:n", 41), 42, "INCRBY")
    eq(r.incrbyfloat("py:f", 1.5), 1.5, "INCRBYFLOAT")
    eq(r.set("py:nx", "1", nx=True), True, "SET NX")
    eq(r.set("py:nx", "2", nx=True), None, "SET NX again")
    eq(r.mset({"{py}a": "1", "{py}b": "2"}), True, "MSET same slot")
    eq(r.mget("{py}a", "{py}b", "{py}c"), [b"1", b"2", None], "MGET same slot")
    try:
        r.incr("py:s")
        raise AssertionError("INCR of a non-integer did not fail")
    except redis.ResponseError as e:
        check("not an integer" in str(e), f"INCR error: {e}")
    # MGET across slots is split by the proxy; MSETNX cannot be and keeps CROSSSLOT.
    eq(r.mget("py:s", "py:n", "py:none"), [b"hello world", b"42", None], "MGET across slots")
    try:
        r.msetnx({"py:a": "1", "py:b": "2"})
        raise AssertionError("MSETNX across slots did not fail")
    except redis.exceptions.ClusterCrossSlotError as e:  # parsed from -CROSSSLOT
        check("same slot" in str(e), f"cross-slot MSETNX: {e}")
    eq(r.get("py:s"), b"hello world", "connection still usable after errors")

    # Expiry.
    eq(r.set("py:ttl", "x"), True, "SET")
    eq(r.expire("py:ttl", 100), True, "EXPIRE")
    ttl = r.ttl("py:ttl")
    check(0 < ttl <= 100, f"TTL {ttl}")
    pttl = r.pttl("py:ttl")
    check(0 < pttl <= 100_000, f"PTTL {pttl}")
    eq(r.persist("py:ttl"), True, "PERSIST")
    eq(r.ttl("py:ttl"), -1, "TTL after PERSIST")
    eq(r.ttl("py:missing"), -2, "TTL of a missing key")

    # Lists.
    eq(r.rpush("py:l", "a", "b", "c"), 3, "RPUSH")
    eq(r.lpush("py:l", "z"), 4, "LPUSH")
    eq(r.lrange("py:l", 0, -1), [b"z", b"a", b"b", b"c"], "LRANGE")
    eq(r.lpop("py:l"), b"z", "LPOP")
    eq(r.rpop("py:l", 2), [b"c", b"b"], "RPOP count")
    eq(r.llen("py:l"), 1, "LLEN")

    # Hashes.
    eq(r.hset("py:h", mapping={"f1": "v1", "f2": "v2"}), 2, "HSET mapping")
    eq(r.hgetall("py:h"), {b"f1": b"v1", b"f2": b"v2"}, "HGETALL")
    eq(r.hincrby("py:h", "n", 5), 5, "HINCRBY")
    eq(r.hmget("py:h", ["f1", "nope"]), [b"v1", None], "HMGET")
    eq(r.hdel("py:h", "f2"), 1, "HDEL")
    eq(sorted(r.hkeys("py:h")), [b"f1", b"n"], "HKEYS")

    # Sets.
    eq(r.sadd("py:set", "a", "b", "c", "a"), 3, "SADD")
    eq(r.smembers("py:set"), {b"a", b"b", b"c"}, "SMEMBERS")
    eq(r.sismember("py:set", "b"), True, "SISMEMBER")
    eq(r.scard("py:set"), 3, "SCARD")
    eq(r.srem("py:set", "a"), 1, "SREM")

    # Sorted sets: scores come back as floats.
    eq(r.zadd("py:z", {"a": 1.5, "b": 2, "c": -0.25}), 3, "ZADD")
    score = r.zscore("py:z", "a")
    check(isinstance(score, float) and score == 1.5, f"ZSCORE {score!r}")
    eq(r.zscore("py:z", "nope"), None, "ZSCORE missing")
    eq(
        r.zrange("py:z", 0, -1, withscores=True),
        [(b"c", -0.25), (b"a", 1.5), (b"b", 2.0)],
        "ZRANGE WITHSCORES",
    )
    eq(r.zrange("py:z", 0, 0), [b"c"], "ZRANGE")
    eq(r.zincrby("py:z", 0.5, "a"), 2.0, "ZINCRBY")
    eq(r.zrank("py:z", "b"), 2, "ZRANK")
    eq(r.zrangebyscore("py:z", 0, 10), [b"a", b"b"], "ZRANGEBYSCORE")
    eq(r.zcard("py:z"), 3, "ZCARD")

    # Streams.
    id1 = r.xadd("py:x", {"f": "v1"})
    id2 = r.xadd("py:x", {"f": "v2", "g": "w"})
    check(isinstance(id1, bytes) and b"-" in id1, f"XADD id {id1!r}")
    eq(r.xlen("py:x"), 2, "XLEN")
    eq(
        r.xrange("py:x"),
        [(id1, {b"f": b"v1"}), (id2, {b"f": b"v2", b"g": b"w"})],
        "XRANGE",
    )
    eq(r.xrevrange("py:x", count=1), [(id2, {b"f": b"v2", b"g": b"w"})], "XREVRANGE")
    read = r.xread({"py:x": "0-0"}, count=1)
    if isinstance(read, dict):  # RESP3-shaped reply
        read = [[k, v[0] if len(v) == 1 and isinstance(v[0], list) else v] for k, v in read.items()]
    eq(read[0][0], b"py:x", f"XREAD stream name {read!r}")
    eq(read[0][1][0], (id1, {b"f": b"v1"}), f"XREAD entry {read!r}")

    # Binary keys and values (CR, LF, NUL, and RESP-looking bytes).
    bkey = b"py:bin:\r\n\x00"
    eq(r.set(bkey, BINARY), True, "SET binary")
    eq(r.get(bkey), BINARY, "GET binary")
    eq(r.hset("py:binh", BINARY, BINARY), 1, "HSET binary field")
    eq(r.hget("py:binh", BINARY), BINARY, "HGET binary field")
    eq(r.rpush("py:binl", BINARY, b""), 2, "RPUSH binary and empty")
    eq(r.lrange("py:binl", 0, -1), [BINARY, b""], "LRANGE binary and empty")


def check_pipelines(r):
    n = 1000
    keys = [f"py:p:{i}" for i in range(n)]
    slots = {key_slot(k.encode()) for k in keys}
    check(len(slots) > 900, f"pipeline keys cover only {len(slots)} slots")

    pipe = r.pipeline(transaction=False)
    for i, k in enumerate(keys):
        pipe.set(k, b"v%d" % i + BINARY)
    eq(pipe.execute(), [True] * n, "pipeline of 1000 SETs")

    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.get(k)
    eq(pipe.execute(), [b"v%d" % i + BINARY for i in range(n)], "pipeline of 1000 GETs")

    # Mixed commands, mixed reply types, each at its place.
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.incr(f"py:pm:n:{i}")
        pipe.hset(f"py:pm:h:{i}", "f", i)
        pipe.zadd(f"py:pm:z:{i}", {"m": i + 0.5})
        pipe.zscore(f"py:pm:z:{i}", "m")
        pipe.get(f"py:pm:none:{i}")
    got = pipe.execute()
    eq(len(got), 1000, "mixed pipeline length")
    for i in range(200):
        eq(got[5 * i : 5 * i + 5], [1, 1, 1, i + 0.5, None], f"mixed pipeline entry {i}")

    # An error in the middle of a pipeline stays at its place.
    pipe = r.pipeline(transaction=False)
    pipe.set("py:pe:a", "x")
    pipe.incr("py:pe:a")
    pipe.get("py:pe:a")
    got = pipe.execute(raise_on_error=False)
    eq(got[0], True, "pipeline SET")
    check(isinstance(got[1], redis.ResponseError), f"pipeline INCR error {got[1]!r}")
    eq(got[2], b"x", "pipeline GET after an error")


def check_decoded(port, kwargs):
    r = redis.Redis(decode_responses=True, **kwargs)
    try:
        eq(r.set("py:dec", "héllo"), True, "SET (decoded client)")
        eq(r.get("py:dec"), "héllo", "GET (decoded client)")
        eq(r.hgetall("py:h"), {"f1": "v1", "n": "5"}, "HGETALL (decoded client)")
    finally:
        r.close()


def main():
    port = int(sys.argv[1])
    proto = int(sys.argv[2])
    check(proto in (2, 3), f"PROTO must be 2 or 3, not {proto}")
    check(
        redis.__version__.startswith("8."),
        f"redis-py 8.x required, found {redis.__version__}: pip install 'redis>=8,<9'",
    )
    kwargs = dict(
        host="127.0.0.1",
        port=port,
        socket_timeout=20,
        socket_connect_timeout=5,
    )
    if proto == 2:
        kwargs["protocol"] = 2
    r = redis.Redis(client_name="slotway-py", **kwargs)
    try:
        check_protocol(r, proto)
        check_types(r)
        check_pipelines(r)
        check_decoded(port, kwargs)
    finally:
        r.close()
    print("ok")


if __name__ == "__main__":
    run(main)
