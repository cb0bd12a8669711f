#!/usr/bin/env python3
"""redis-py 8's cluster client (redis.cluster.RedisCluster) pointed at Slotway.

Usage: redis_py_cluster.py PORT

The proxy presents itself as a one-node cluster owning all 16384 slots, so
RedisCluster discovers a single node (the proxy) and sends everything
through it. Checks single-key commands over many slots, mget/mset_nonatomic,
multi-key commands redis-py splits itself, a cluster pipeline, scan_iter and
the cluster-management helpers, with the default protocol and with RESP3.

Prints "ok" last and exits 0 when every check passes; prints the failed
check and exits 1 otherwise; exits 3 when redis-py cannot be imported.
Run by crates/slotway/tests/commands.rs against a proxy on 127.0.0.1:PORT.
"""

import sys

from pycheck import check, eq, redis, run  # exits 3 without redis-py
from redis.cluster import RedisCluster
from redis.crc import key_slot


def exercise(port, protocol, prefix):
    kwargs = dict(
        host="127.0.0.1",
        port=port,
        socket_timeout=20,
        socket_connect_timeout=5,
    )
    if protocol is not None:
        kwargs["protocol"] = protocol
    rc = RedisCluster(**kwargs)
    try:
        # Topology: exactly one node, the proxy, owning every slot.
        nodes = rc.get_nodes()
        eq(len(nodes), 1, f"nodes discovered {nodes!r}")
        node = nodes[0]
        eq((node.host, int(node.port)), ("127.0.0.1", port), "the one node is the proxy")
        eq(node.server_type, "primary", "server type")
        for slot in (0, 5461, 5462, 10922, 10923, 16383):
            eq(rc.get_node_from_key(f"x{slot}").name, node.name, "slot owner")
        owner = rc.nodes_manager.get_node_from_slot(16383)
        eq(owner.name, node.name, "owner of slot 16383")
        eq(rc.keyslot("foo"), 12182, "keyslot")
        eq(rc.cluster_keyslot("foo"), 12182, "CLUSTER KEYSLOT")
        info = rc.cluster_info()
        eq(info.get("cluster_state"), "ok", f"CLUSTER INFO {info!r}")

        # Single-key commands over many slots.
        n = 500
        keys = [f"{prefix}:{i}" for i in range(n)]
        slots = {key_slot(k.encode()) for k in keys}
        check(len(slots) > 450, f"keys cover only {len(slots)} slots")
        for i, k in enumerate(keys):
            eq(rc.set(k, f"v{i}"), True, f"SET {k}")
        for i, k in enumerate(keys):
            eq(rc.get(k), f"v{i}".encode(), f"GET {k}")
        eq(rc.get(f"{prefix}:missing"), None, "GET missing")
        eq(rc.incr(f"{prefix}:ctr"), 1, "INCR")
        eq(rc.hset(f"{prefix}:h", mapping={"a": "1", "b": "2"}), 2, "HSET")
        eq(rc.hgetall(f"{prefix}:h"), {b"a": b"1", b"b": b"2"}, "HGETALL")

        # Non-atomic multi-key helpers (split by slot in redis-py).
        got = rc.mget_nonatomic(keys + [f"{prefix}:missing"])
        eq(got, [f"v{i}".encode() for i in range(n)] + [None], "mget_nonatomic")
        pairs = {f"{prefix}:m:{i}": f"m{i}" for i in range(200)}
        eq(rc.mset_nonatomic(pairs), [True] * len({key_slot(k.encode()) for k in pairs}),
           "mset_nonatomic")
        eq(rc.mget_nonatomic(list(pairs)), [v.encode() for v in pairs.values()],
           "mget_nonatomic after mset_nonatomic")
        eq(rc.exists(*keys[:100]), 100, "EXISTS over many slots")
        eq(rc.touch(*keys[:50]), 50, "TOUCH over many slots")
        # Same-slot MGET/MSET go as they are.
        eq(rc.mset({"{t}a": "1", "{t}b": "2"}), True, "MSET with a hash tag")
        eq(rc.mget("{t}a", "{t}b", "{t}c"), [b"1", b"2", None], "MGET with a hash tag")

        # A cluster pipeline over many slots.
        pipe = rc.pipeline()
        for i, k in enumerate(keys):
            pipe.set(k, f"p{i}")
            pipe.get(k)
        got = pipe.execute()
        eq(len(got), 2 * n, "pipeline length")
        for i in range(n):
            eq(got[2 * i : 2 * i + 2], [True, f"p{i}".encode()], f"pipeline entry {i}")
        pipe = rc.pipeline()
        for i in range(100):
            pipe.incr(f"{prefix}:pc:{i}")
            pipe.incrby(f"{prefix}:pc:{i}", 10)
        eq(pipe.execute(), [1, 11] * 100, "pipeline of INCRs")

        # Commands redis-py sends to every node: one node here, the proxy.
        total = n + 1 + 1 + len(pairs) + 2 + 100
        eq(rc.dbsize(), total, "DBSIZE")
        scanned = list(rc.scan_iter(match=f"{prefix}:*", count=100))
        eq(len(scanned), len(set(scanned)), "scan_iter without duplicates")
        eq(len(scanned), total - 2, "scan_iter count")
        eq(set(rc.keys(f"{prefix}:m:*")), {k.encode() for k in pairs}, "KEYS")
        check(rc.ping(), "PING")

        # DEL over many slots (redis-py splits it by slot).
        eq(rc.delete(*keys), n, "DEL over many slots")
        eq(rc.exists(*keys), 0, "EXISTS after DEL")
        eq(rc.delete(*pairs, "{t}a", "{t}b"), len(pairs) + 2, "DEL the pairs")
        rest = [f"{prefix}:ctr", f"{prefix}:h"] + [f"{prefix}:pc:{i}" for i in range(100)]
        eq(rc.delete(*rest), len(rest), "DEL the rest")
        eq(rc.dbsize(), 0, "DBSIZE at the end")
    finally:
        rc.close()


def main():
    port = int(sys.argv[1])
    check(
        redis.__version__.startswith("8."),
        f"redis-py 8.x required, found {redis.__version__}: pip install 'redis>=8,<9'",
    )
    exercise(port, None, "pyc")
    exercise(port, 3, "pyc3")
    # Leave one key for the Rust side to read.
    rc = RedisCluster(host="127.0.0.1", port=port, socket_timeout=20)
    try:
        eq(rc.set("pyc:7", "v7"), True, "SET pyc:7")
    finally:
        rc.close()
    print("ok")


if __name__ == "__main__":
    run(main)
