//! Shared by the offline (`keys.rs`) and live (`live.rs`) key tests: the
//! request vectors with the positions Redis 7.0 reports, and helpers.

#![allow(dead_code)] // each test binary uses a different subset

use slotway_command::{CommandSpec, KeyError, Resolved, for_each_key, resolve};

/// Splits on single spaces; `""` stands for an empty argument.
pub fn split(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .map(|a| {
            if a == "\"\"" {
                Vec::new()
            } else {
                a.as_bytes().to_vec()
            }
        })
        .collect()
}

pub fn spec_of(args: &[Vec<u8>]) -> &'static CommandSpec {
    match resolve(args) {
        Resolved::Command(c) => c,
        other => panic!("{:?}: {other:?}", show(args)),
    }
}

pub fn keys_of(args: &[Vec<u8>]) -> Result<Vec<usize>, KeyError> {
    let mut out = Vec::new();
    for_each_key(spec_of(args), args, |i| out.push(i)).map(|()| out)
}

pub fn show(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

type Want = Result<&'static [usize], KeyError>;
const OOR: Want = Err(KeyError::OutOfRange);
const BAD_NUMKEYS: Want = Err(KeyError::InvalidNumkeys);

/// Request line -> key positions (or error) as Redis 7.0 computes them.
pub const VECTORS: &[(&str, Want)] = &[
    // Fixed positions.
    ("GET k", Ok(&[1])),
    ("get k", Ok(&[1])),
    ("SET k v EX 10 NX GET", Ok(&[1])),
    ("GETEX k PERSIST", Ok(&[1])),
    ("MSET a 1 b 2 c 3", Ok(&[1, 3, 5])),
    ("MSETNX a 1 b 2", Ok(&[1, 3])),
    ("MGET a b c", Ok(&[1, 2, 3])),
    ("DEL a b", Ok(&[1, 2])),
    ("UNLINK a", Ok(&[1])),
    ("EXISTS a a", Ok(&[1, 2])),
    ("RENAME a b", Ok(&[1, 2])),
    ("RENAME k k", Ok(&[1, 2])),
    ("SMOVE src dst m", Ok(&[1, 2])),
    ("COPY src dst DB 0 REPLACE", Ok(&[1, 2])),
    ("PFMERGE dst a b", Ok(&[1, 2, 3])),
    ("PFCOUNT a b", Ok(&[1, 2])),
    ("BITOP AND dst a b", Ok(&[2, 3, 4])),
    ("BITOP NOT dst a", Ok(&[2, 3])),
    ("LCS a b LEN", Ok(&[1, 2])),
    ("LMOVE a b LEFT RIGHT", Ok(&[1, 2])),
    ("BLMOVE a b LEFT RIGHT 0", Ok(&[1, 2])),
    ("RPOPLPUSH a b", Ok(&[1, 2])),
    ("BRPOPLPUSH a b 0", Ok(&[1, 2])),
    ("BLPOP a b c 0", Ok(&[1, 2, 3])),
    ("BRPOP a 1.5", Ok(&[1])),
    ("BZPOPMIN a b 0", Ok(&[1, 2])),
    ("SUNIONSTORE d a b", Ok(&[1, 2, 3])),
    ("SINTER a b", Ok(&[1, 2])),
    ("WATCH a b", Ok(&[1, 2])),
    ("TOUCH a", Ok(&[1])),
    ("BITFIELD k GET u8 0 SET u8 0 1", Ok(&[1])),
    ("BITFIELD_RO k GET u8 0", Ok(&[1])),
    ("GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km", Ok(&[1, 2])),
    ("ZRANGESTORE d s 0 -1", Ok(&[1, 2])),
    ("DUMP k", Ok(&[1])),
    ("RESTORE k 0 payload", Ok(&[1])),
    // Subcommands.
    ("OBJECT ENCODING k", Ok(&[2])),
    ("object freq k", Ok(&[2])),
    ("XINFO STREAM k FULL COUNT 1", Ok(&[2])),
    ("XINFO CONSUMERS k g", Ok(&[2])),
    ("MEMORY USAGE k SAMPLES 5", Ok(&[2])),
    ("XGROUP CREATE k g $ MKSTREAM", Ok(&[2])),
    ("XGROUP CREATECONSUMER k g c", Ok(&[2])),
    ("CONFIG GET maxmemory", Ok(&[])),
    ("CLIENT SETNAME x", Ok(&[])),
    // numkeys.
    ("EVAL s 2 a b x y", Ok(&[3, 4])),
    ("EVALSHA sha 1 k a", Ok(&[3])),
    ("EVAL_RO s 1 k", Ok(&[3])),
    ("EVALSHA_RO sha 1 k", Ok(&[3])),
    ("FCALL f 2 a b", Ok(&[3, 4])),
    ("FCALL_RO f 1 a x", Ok(&[3])),
    ("ZUNIONSTORE d 2 a b WEIGHTS 1 2", Ok(&[1, 3, 4])),
    ("ZINTERSTORE d 1 a", Ok(&[1, 3])),
    ("ZDIFFSTORE d 2 a b", Ok(&[1, 3, 4])),
    ("ZUNION 2 a b WITHSCORES", Ok(&[2, 3])),
    ("ZINTER 1 a", Ok(&[2])),
    ("ZDIFF 2 a b", Ok(&[2, 3])),
    ("ZINTERCARD 2 a b LIMIT 1", Ok(&[2, 3])),
    ("SINTERCARD 2 a b LIMIT 1", Ok(&[2, 3])),
    ("LMPOP 2 a b LEFT COUNT 2", Ok(&[2, 3])),
    ("BLMPOP 0 2 a b LEFT", Ok(&[3, 4])),
    ("ZMPOP 1 a MIN", Ok(&[2])),
    ("BZMPOP 1.5 2 a b MAX COUNT 3", Ok(&[3, 4])),
    // numkeys 0: keyless for the whole request (Redis's fallback).
    ("EVAL s 0", Ok(&[])),
    ("EVAL s 0 a b", Ok(&[])),
    ("FCALL f 0", Ok(&[])),
    ("ZUNIONSTORE d 0 a", Ok(&[])),
    // Malformed numkeys.
    ("EVAL s 3 a b", OOR),
    ("ZUNIONSTORE d 5 a", OOR),
    ("EVAL s 99999999999 a", OOR),
    ("EVAL s -1 a", BAD_NUMKEYS),
    ("EVAL s abc a", BAD_NUMKEYS),
    ("EVAL s 01 a", BAD_NUMKEYS),
    ("EVAL s +1 a", BAD_NUMKEYS),
    ("LMPOP x a LEFT", BAD_NUMKEYS),
    // Keyword + range with limit (keys, then as many IDs).
    ("XREAD STREAMS a 0", Ok(&[2])),
    ("XREAD COUNT 2 STREAMS a b 0 0", Ok(&[4, 5])),
    ("xread block 0 streams a b c 0 0 0", Ok(&[4, 5, 6])),
    ("XREADGROUP GROUP g c COUNT 1 STREAMS a b > >", Ok(&[7, 8])),
    // The consumer is called "streams": the search starts after it.
    ("XREADGROUP GROUP g streams STREAMS a >", Ok(&[5])),
    // Odd remainder: the first half, rounded down (like Redis).
    ("XREAD STREAMS a b c", Ok(&[2])),
    // STREAMS as the last argument is never examined: no keys.
    ("XREAD COUNT 1 STREAMS", Ok(&[])),
    ("XREAD COUNT 1 STREAMS a", OOR),
    // Keyword + range 0.
    ("GEORADIUS k 0 0 1 km", Ok(&[1])),
    ("GEORADIUS k 0 0 1 km WITHDIST STORE d", Ok(&[1, 8])),
    ("GEORADIUS k 0 0 1 km STOREDIST d", Ok(&[1, 7])),
    ("GEORADIUS k 0 0 1 km STORE a STOREDIST b", Ok(&[1, 7, 9])),
    ("GEORADIUSBYMEMBER k m 1 km STORE d", Ok(&[1, 6])),
    ("GEORADIUS_RO k 0 0 1 km", Ok(&[1])),
    ("GEORADIUS k 0 0 1 km STORE", Ok(&[1])),
    // SORT: Redis's sortGetKeys.
    ("SORT k", Ok(&[1])),
    ("SORT k BY w_* GET # GET o_* STORE d", Ok(&[1, 9])),
    ("sort k store d1 STORE d2", Ok(&[1, 5])),
    // LIMIT skips two arguments, so "store" as the count is not an option.
    ("SORT k LIMIT 0 store STORE d", Ok(&[1, 6])),
    // GET skips one: a pattern called "store" is not an option.
    ("SORT k GET store x", Ok(&[1])),
    ("SORT k STORE", Ok(&[1])),
    ("SORT_RO k BY w_* GET #", Ok(&[1])),
    // MIGRATE: single key, or Redis's forward re-parse of the KEYS form.
    ("MIGRATE h 6379 k 0 5000", Ok(&[3])),
    ("MIGRATE h 6379 k 0 5000 COPY REPLACE", Ok(&[3])),
    ("MIGRATE h 6379 \"\" 0 5000 KEYS a b", Ok(&[7, 8])),
    // A key named "keys" confuses the backward spec search.
    (
        "MIGRATE h 6379 \"\" 0 5000 COPY REPLACE AUTH pw KEYS a keys b",
        Ok(&[11, 12, 13]),
    ),
    ("MIGRATE h 6379 \"\" 0 5000 AUTH2 u keys KEYS a", Ok(&[10])),
    ("MIGRATE h 6379 \"\" 0 5000 AUTH keys", Ok(&[3])),
    // A key and KEYS together is a syntax error: no keys.
    ("MIGRATE h 6379 k 0 5000 KEYS a", Ok(&[])),
    // Keyless.
    ("PING", Ok(&[])),
    ("KEYS *", Ok(&[])),
    ("SCAN 0", Ok(&[])),
    ("FLUSHALL", Ok(&[])),
    ("PUBLISH ch m", Ok(&[])),
    ("SUBSCRIBE a", Ok(&[])),
    ("MULTI", Ok(&[])),
    ("SPUBLISH ch m", Ok(&[])),
];
