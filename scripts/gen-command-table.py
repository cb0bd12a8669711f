#!/usr/bin/env python3
"""Generate crates/command/src/table.rs from a live redis-server.

Usage:
    python3 scripts/gen-command-table.py [--redis-server PATH] [--check]

What it does:
  1. starts `redis-server` (default: the one on PATH) on a free loopback port
     in a throwaway temp dir, with persistence off;
  2. speaks RESP2 over a plain socket and sends `COMMAND` (Redis 7 format:
     flags, ACL categories, tips, key specs, subcommands), `COMMAND DOCS`
     (group / since / summary) and `INFO server` (version);
  3. stops the server by its PID (also when anything above fails);
  4. writes `crates/command/src/table.rs` (or, with --check, only compares).

Invariants of the output (the Rust crate relies on them):
  * top-level commands sorted by name (byte order of the lowercase name);
  * each command's subcommands sorted by the part after '|';
  * key specs kept in the server's order (key extraction order depends on it);
  * no timestamps or other run-dependent data: two runs against the same
    redis-server produce byte-identical output.

Unknown flag / ACL category / key-spec names make the script fail instead
of being dropped silently, so a newer server cannot produce a lossy table.

Standard library only.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(REPO_ROOT, "crates", "command", "src", "table.rs")

# Name as reported by COMMAND -> Rust constant in `crate::flags`.
COMMAND_FLAGS = {
    "write": "WRITE",
    "readonly": "READONLY",
    "denyoom": "DENYOOM",
    "module": "MODULE",
    "admin": "ADMIN",
    "pubsub": "PUBSUB",
    "noscript": "NOSCRIPT",
    "blocking": "BLOCKING",
    "loading": "LOADING",
    "stale": "STALE",
    "skip_monitor": "SKIP_MONITOR",
    "skip_slowlog": "SKIP_SLOWLOG",
    "asking": "ASKING",
    "fast": "FAST",
    "no_auth": "NO_AUTH",
    "may_replicate": "MAY_REPLICATE",
    "sentinel": "SENTINEL",
    "only_sentinel": "ONLY_SENTINEL",
    "no_mandatory_keys": "NO_MANDATORY_KEYS",
    "protected": "PROTECTED",
    "no_async_loading": "NO_ASYNC_LOADING",
    "no_multi": "NO_MULTI",
    "movablekeys": "MOVABLEKEYS",
    "allow_busy": "ALLOW_BUSY",
}

# "@name" as reported by COMMAND -> Rust constant in `crate::acl`.
ACL_CATEGORIES = {
    "keyspace": "KEYSPACE",
    "read": "READ",
    "write": "WRITE",
    "set": "SET",
    "sortedset": "SORTEDSET",
    "list": "LIST",
    "hash": "HASH",
    "string": "STRING",
    "bitmap": "BITMAP",
    "hyperloglog": "HYPERLOGLOG",
    "geo": "GEO",
    "stream": "STREAM",
    "pubsub": "PUBSUB",
    "admin": "ADMIN",
    "fast": "FAST",
    "slow": "SLOW",
    "blocking": "BLOCKING",
    "dangerous": "DANGEROUS",
    "connection": "CONNECTION",
    "transaction": "TRANSACTION",
    "scripting": "SCRIPTING",
}

# Key-spec flag as reported by COMMAND -> Rust constant in `crate::keyspec`.
KEYSPEC_FLAGS = {
    "RO": "RO",
    "RW": "RW",
    "OW": "OW",
    "RM": "RM",
    "access": "ACCESS",
    "update": "UPDATE",
    "insert": "INSERT",
    "delete": "DELETE",
    "not_key": "NOT_KEY",
    "incomplete": "INCOMPLETE",
    "variable_flags": "VARIABLE_FLAGS",
}


class GenError(Exception):
    pass


# --------------------------------------------------------------------------
# RESP2 client (just enough for COMMAND / COMMAND DOCS / INFO).
# --------------------------------------------------------------------------


class RespError(Exception):
    pass


class Resp:
    def __init__(self, sock):
        self.sock = sock
        self.rfile = sock.makefile("rb")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a.encode() if isinstance(a, str) else a
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))
        reply = self._read()
        if isinstance(reply, RespError):
            raise GenError("redis error for %r: %s" % (args, reply))
        return reply

    def _line(self):
        line = self.rfile.readline()
        if not line.endswith(b"\r\n"):
            raise GenError("connection closed mid-reply")
        return line[:-2]

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.rfile.read(n + 2)
            return data[:-2].decode()
        if kind == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n)]
        raise GenError("unexpected RESP type byte %r" % kind)


def pairs(flat):
    """RESP2 encodes maps as flat [k, v, k, v, ...] arrays."""
    if flat is None:
        return {}
    if len(flat) % 2:
        raise GenError("odd-length map %r" % (flat,))
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


# --------------------------------------------------------------------------
# Throwaway server.
# --------------------------------------------------------------------------


def port_is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Server:
    """redis-server on a free loopback port; stopped by PID in stop()."""

    def __init__(self, binary):
        self.binary = binary
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="slotway-gen-")
        self.port = None

    def start(self):
        rng = random.SystemRandom()
        last_err = "no attempt"
        for _ in range(20):
            port = rng.randint(20000, 30000)
            if not port_is_free(port):
                continue
            log = open(os.path.join(self.dir, "server.log"), "wb")
            try:
                self.proc = subprocess.Popen(
                    [
                        self.binary,
                        "--port", str(port),
                        "--bind", "127.0.0.1",
                        "--save", "",
                        "--appendonly", "no",
                        "--dir", self.dir,
                        "--daemonize", "no",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.dir,
                )
            finally:
                log.close()
            sock = self._connect(port)
            if sock is not None:
                self.port = port
                return sock
            last_err = "server on port %d did not come up" % port
            self.stop()
        raise GenError("could not start redis-server: " + last_err)

    def _connect(self, port):
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return None  # exited (port raced away?): caller retries
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
                sock.settimeout(30.0)
                return sock
            except OSError:
                time.sleep(0.05)
        return None

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def fetch(binary):
    server = Server(binary)
    try:
        sock = server.start()
        try:
            r = Resp(sock)
            commands = r.call("COMMAND")
            docs = r.call("COMMAND", "DOCS")
            info = r.call("INFO", "server")
        finally:
            sock.close()
    finally:
        server.cleanup()
    version = None
    for line in info.splitlines():
        if line.startswith("redis_version:"):
            version = line.split(":", 1)[1].strip()
    if not version:
        raise GenError("INFO server has no redis_version")
    return version, commands, docs


# --------------------------------------------------------------------------
# Model.
# --------------------------------------------------------------------------


def parse_keyspec(raw, cmd):
    spec = pairs(raw)
    kflags = []
    for f in spec.get("flags", []):
        if f not in KEYSPEC_FLAGS:
            raise GenError("%s: unknown key-spec flag %r" % (cmd, f))
        kflags.append(f)

    bs = pairs(spec.get("begin_search"))
    bs_spec = pairs(bs.get("spec"))
    if bs.get("type") == "index":
        begin = ("index", int(bs_spec["index"]))
    elif bs.get("type") == "keyword":
        begin = ("keyword", bs_spec["keyword"], int(bs_spec["startfrom"]))
    elif bs.get("type") == "unknown":
        begin = ("unknown",)
    else:
        raise GenError("%s: unknown begin_search %r" % (cmd, bs))

    fk = pairs(spec.get("find_keys"))
    fk_spec = pairs(fk.get("spec"))
    if fk.get("type") == "range":
        find = ("range", int(fk_spec["lastkey"]), int(fk_spec["keystep"]), int(fk_spec["limit"]))
    elif fk.get("type") == "keynum":
        find = ("keynum", int(fk_spec["keynumidx"]), int(fk_spec["firstkey"]), int(fk_spec["keystep"]))
    elif fk.get("type") == "unknown":
        find = ("unknown",)
    else:
        raise GenError("%s: unknown find_keys %r" % (cmd, fk))
    return {"flags": kflags, "begin": begin, "find": find}


def parse_command(raw, docs):
    if len(raw) < 10:
        raise GenError("COMMAND entry too short (not Redis 7 format?): %r" % (raw[:2],))
    name, arity, cflags, _first, _last, _step, acls, tips, keyspecs, subs = raw[:10]
    for f in cflags:
        if f not in COMMAND_FLAGS:
            raise GenError("%s: unknown command flag %r" % (name, f))
    cats = []
    for c in acls:
        if not c.startswith("@") or c[1:] not in ACL_CATEGORIES:
            raise GenError("%s: unknown ACL category %r" % (name, c))
        cats.append(c[1:])
    doc = pairs(docs.get(name))
    sub_docs = pairs(doc.get("subcommands"))
    return {
        "name": name,
        "arity": int(arity),
        "flags": cflags,
        "acl": cats,
        "tips": list(tips),
        "key_specs": [parse_keyspec(k, name) for k in keyspecs],
        "subcommands": sorted(
            (parse_command(s, sub_docs) for s in subs), key=lambda c: c["name"]
        ),
        "group": doc.get("group", ""),
        "since": doc.get("since", ""),
        "summary": doc.get("summary", ""),
    }


def build(commands, docs):
    doc_map = pairs(docs)
    cmds = sorted((parse_command(c, doc_map) for c in commands), key=lambda c: c["name"])
    names = [c["name"] for c in cmds]
    if len(set(names)) != len(names):
        raise GenError("duplicate command names")
    for c in cmds:
        if c["name"] != c["name"].lower() or "|" in c["name"]:
            raise GenError("unexpected top-level name %r" % c["name"])
        for s in c["subcommands"]:
            if not s["name"].startswith(c["name"] + "|"):
                raise GenError("subcommand %r not under %r" % (s["name"], c["name"]))
            if s["subcommands"]:
                raise GenError("nested subcommands under %r" % s["name"])
    return cmds


# --------------------------------------------------------------------------
# Rust output.
# --------------------------------------------------------------------------


def rust_str(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        else:
            out.append("\\u{%x}" % o)
    out.append('"')
    return "".join(out)


def bitset(prefix, names, table):
    # Emit in the table's declaration order so output does not depend on the
    # order the server happened to list the names in.
    wanted = set(names)
    consts = ["%s::%s" % (prefix, table[n]) for n in table if n in wanted]
    return " | ".join(consts) if consts else "0"


def emit_keyspec(k):
    b = k["begin"]
    if b[0] == "index":
        begin = "BeginSearch::Index(%d)" % b[1]
    elif b[0] == "keyword":
        begin = "BeginSearch::Keyword { keyword: %s, start_from: %d }" % (rust_str(b[1]), b[2])
    else:
        begin = "BeginSearch::Unknown"
    f = k["find"]
    if f[0] == "range":
        find = "FindKeys::Range { last_key: %d, step: %d, limit: %d }" % f[1:]
    elif f[0] == "keynum":
        find = "FindKeys::Keynum { keynum_idx: %d, first_key: %d, step: %d }" % f[1:]
    else:
        find = "FindKeys::Unknown"
    return "KeySpec { begin: %s, find: %s, flags: %s }" % (
        begin,
        find,
        bitset("keyspec", k["flags"], KEYSPEC_FLAGS),
    )


def emit_command(c, indent, out):
    p = " " * indent
    out.append(p + "CommandSpec {")
    out.append(p + "    name: %s," % rust_str(c["name"]))
    out.append(p + "    arity: %d," % c["arity"])
    out.append(p + "    flags: %s," % bitset("flags", c["flags"], COMMAND_FLAGS))
    out.append(p + "    acl_categories: %s," % bitset("acl", c["acl"], ACL_CATEGORIES))
    if c["key_specs"]:
        out.append(p + "    key_specs: &[")
        for k in c["key_specs"]:
            out.append(p + "        " + emit_keyspec(k) + ",")
        out.append(p + "    ],")
    else:
        out.append(p + "    key_specs: &[],")
    if c["subcommands"]:
        out.append(p + "    subcommands: &[")
        for s in c["subcommands"]:
            emit_command(s, indent + 8, out)
        out.append(p + "    ],")
    else:
        out.append(p + "    subcommands: &[],")
    out.append(p + "    group: %s," % rust_str(c["group"]))
    out.append(p + "    since: %s," % rust_str(c["since"]))
    out.append(p + "    summary: %s," % rust_str(c["summary"]))
    out.append(p + "    tips: &[%s]," % ", ".join(rust_str(t) for t in c["tips"]))
    out.append(p + "},")


def render(version, cmds):
    nsub = sum(len(c["subcommands"]) for c in cmds)
    out = [
        "//! GENERATED FILE, DO NOT EDIT: the Redis command table.",
        "//!",
        "//! Generated by `scripts/gen-command-table.py` from `COMMAND` and `COMMAND DOCS`",
        "//! of redis-server %s (%d commands, %d subcommands). Regenerate with:" % (version, len(cmds), nsub),
        "//!",
        "//! ```text",
        "//! python3 scripts/gen-command-table.py [--redis-server PATH]",
        "//! ```",
        "//!",
        "//! Invariants (relied on by `crate::lookup` / `crate::resolve`, checked by tests):",
        "//! `COMMANDS` is sorted by name (lowercase, byte order); every `subcommands`",
        "//! slice is sorted by the part after '|'; key specs are in the server's order.",
        "",
        "use crate::{BeginSearch, CommandSpec, FindKeys, KeySpec};",
        "use crate::{acl, flags, keyspec};",
        "",
        "/// `redis_version` of the server this table was generated from.",
        "pub const REDIS_VERSION: &str = %s;" % rust_str(version),
        "",
        "/// Every top-level command, sorted by name for binary search.",
        "pub static COMMANDS: &[CommandSpec] = &[",
    ]
    for c in cmds:
        emit_command(c, 4, out)
    out.append("];")
    out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis-server", default="redis-server", help="redis-server binary (default: from PATH)")
    ap.add_argument("--output", default=OUTPUT, help="where to write table.rs (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is stale")
    args = ap.parse_args()

    binary = shutil.which(args.redis_server)
    if binary is None:
        print("redis-server not found: %s" % args.redis_server, file=sys.stderr)
        return 2
    try:
        version, commands, docs = fetch(binary)
        text = render(version, build(commands, docs))
    except GenError as e:
        print("gen-command-table: %s" % e, file=sys.stderr)
        return 1

    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print("%s is stale; rerun without --check" % args.output, file=sys.stderr)
            return 1
        print("%s is up to date (redis %s)" % (args.output, version))
        return 0

    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote %s (redis %s, %d commands)" % (args.output, version, len(commands)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
