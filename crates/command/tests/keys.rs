//! Key extraction offline: the shared vectors (positions as Redis 7.0
//! computes them; `live.rs` checks the same requests against a real server),
//! shard channels, and a robustness sweep over every command.

// Test code: a panic, unwrap or out-of-range index is a failed test, not a crash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{VECTORS, keys_of, spec_of, split};
use slotway_command::table::COMMANDS;
use slotway_command::{Resolved, for_each_key, for_each_shard_channel, resolve};

#[test]
fn vectors() {
    for (line, want) in VECTORS {
        let got = keys_of(&split(line));
        assert_eq!(got, want.map(<[usize]>::to_vec), "{line}");
    }
}

#[test]
fn keyword_is_compared_as_a_c_string() {
    let args: &[&[u8]] = &[b"XREAD", b"STREAMS\0junk", b"a", b"0"];
    let mut out = Vec::new();
    let spec = match resolve(args) {
        Resolved::Command(c) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(for_each_key(spec, args, |i| out.push(i)), Ok(()));
    assert_eq!(out, [2]);
}

#[test]
fn shard_channels() {
    let chans = |line: &str| {
        let args = split(line);
        let mut out = Vec::new();
        for_each_shard_channel(spec_of(&args), &args[..], |i| out.push(i));
        out
    };
    assert_eq!(chans("SPUBLISH ch m"), [1]);
    assert_eq!(chans("SSUBSCRIBE a b"), [1, 2]);
    assert_eq!(chans("SUNSUBSCRIBE"), [] as [usize; 0]);
    assert_eq!(chans("SUNSUBSCRIBE a"), [1]);
    assert_eq!(chans("GET k"), [] as [usize; 0]);
    assert_eq!(keys_of(&split("SSUBSCRIBE a b")), Ok(vec![]));
}

/// Every command, with argument lists of every small length drawn from
/// tricky values: never panics and never yields a position >= argc.
#[test]
fn never_out_of_bounds() {
    let pool: &[&[u8]] = &[
        b"0",
        b"1",
        b"2",
        b"3",
        b"-1",
        b"x",
        b"",
        b"STREAMS",
        b"KEYS",
        b"STORE",
        b"LIMIT",
        b"GET",
        b"BY",
        b"AUTH",
        b"AUTH2",
        b"STOREDIST",
        b"99",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut total = 0usize;
    for c in COMMANDS {
        for spec in std::iter::once(c).chain(c.subcommands) {
            for argc in 0..12 {
                for _ in 0..40 {
                    let args: Vec<&[u8]> = (0..argc)
                        .map(|_| pool[(next() % pool.len() as u64) as usize])
                        .collect();
                    let _ = for_each_key(spec, &args[..], |i| {
                        assert!(i < argc, "{} {args:?} -> {i}", spec.name);
                        total += 1;
                    });
                    for_each_shard_channel(spec, &args[..], |i| assert!(i < argc));
                }
            }
        }
    }
    assert!(total > 1000);
}
