//! Key extraction: which arguments of a request are keys.
//!
//! Owns [`for_each_key`] (and [`for_each_shard_channel`]). The result is what
//! Redis 7.0 itself computes for the request in `getKeysFromCommandWithSpecs`
//! (db.c), i.e. what `COMMAND GETKEYS` answers and what cluster mode routes on:
//!
//! 1. the key specs are walked in order exactly like `getKeysUsingKeySpecs`:
//!    * `Index(i)` begins at `i`; `Keyword` is searched (ASCII
//!      case-insensitive, as C strings) from `start_from` up to but excluding
//!      the last argument, or for a negative `start_from` backwards from
//!      `argc + start_from` down to but excluding argument 1; a keyword that is
//!      not found makes that spec yield nothing;
//!    * `Range`: `last_key >= 0` is relative to the begin, negative with
//!      `limit == 0` relative to the end, and with `limit > 0` the keys are the
//!      first `1/limit` of the remaining arguments (XREAD: keys, then IDs);
//!    * `Keynum`: the count is read from `begin + keynum_idx` with Redis's
//!      strict `string2ll` rules; keys start at `begin + first_key`;
//!    * a range that ends before it starts or past the request is invalid;
//!    * `NOT_KEY` specs are skipped;
//! 2. when that walk fails, Redis falls back to the command's own getkeys
//!    parser; this module mirrors those fallbacks:
//!    * `numkeys` of 0: no keys *at all* (even ZUNIONSTORE's destination),
//!      because every 7.0 numkeys parser (`genericGetKeys`) returns nothing for
//!      fewer than one key. EVAL/FCALL with 0 keys are thus keyless, as they
//!      should be;
//!    * `numkeys` not an integer, negative, or larger than the remaining
//!      arguments, and ranges that fall outside the request (`XREAD STREAMS`
//!      with nothing after it): [`KeyError`]. Redis answers such a request
//!      with an error when it runs it; `COMMAND GETKEYS` reports no keys;
//!    * SORT / SORT_RO: their BY/GET and STORE specs are `Unknown` (the
//!      patterns name keys only through the data, and STORE can be anywhere),
//!      so Redis always uses `sortGetKeys` / `sortROGetKeys`: argument 1, plus
//!      the argument after the *last* `STORE` for SORT, with Redis's option
//!      skipping (`LIMIT` skips 2, `GET` / `BY` skip 1). BY/GET patterns are
//!      never reported as keys;
//!    * MIGRATE: the `KEYS` spec is `INCOMPLETE` (searched backwards, so a key
//!      named "keys" would confuse it); when it matches, Redis uses
//!      `migrateGetKeys`: a forward scan from argument 6 that skips `AUTH`'s
//!      and `AUTH2`'s values; the keys are everything after `KEYS` if argument
//!      3 is empty, else none (a syntax error for MIGRATE). Without `KEYS` the
//!      key is argument 3;
//!    * any other unknown / incomplete spec (none in 7.0) yields what the valid
//!      specs give (Redis's `GET_KEYSPEC_RETURN_PARTIAL`).
//!
//! Quirks the caller must know:
//! * no arity check is done here: call `CommandSpec::arity_ok` first (Redis
//!   checks arity before computing keys). Positions are always `< argc`;
//! * keys come out in spec order, so duplicates are possible (`RENAME k k`,
//!   `GEORADIUS ... STORE a STOREDIST b` yields both destinations);
//! * `VARIABLE_FLAGS` specs (SET, BITFIELD) change only the flags Redis would
//!   report, never the positions, so they are walked like any other;
//! * a `numkeys` above `i32::MAX` is an error here, while Redis 7.0 truncates it
//!   to `int` (a request only a malicious client sends; Redis rejects it when
//!   running the command anyway);
//! * shard channels (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE) are `NOT_KEY` specs:
//!   not keys, but cluster mode hashes them like keys; use
//!   [`for_each_shard_channel`];
//! * keyword matches compare C strings, like Redis: an argument with an
//!   embedded NUL matches on its prefix before the NUL.
//!
//! Invariants: never allocates, never panics, never yields an index `>= argc`.

use core::fmt;
use slotway_resp::num::string2ll;

use crate::keyspec;
use crate::spec::{Args, BeginSearch, CommandSpec, FindKeys, KeySpec};

/// A request whose key positions Redis cannot determine; Redis rejects it
/// when it runs the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The numkeys argument is missing, not a strict integer, or negative.
    InvalidNumkeys,
    /// The computed keys fall outside the request (numkeys larger than the
    /// remaining arguments, nothing after `STREAMS`, ...).
    OutOfRange,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::InvalidNumkeys => "invalid number of keys",
            KeyError::OutOfRange => "key positions out of range",
        })
    }
}

impl std::error::Error for KeyError {}

/// Calls `f(i)` for the index of every key argument of this request, in the
/// order Redis 7.0 reports them (see the module doc for the exact rules and
/// fallbacks). Does not allocate.
pub fn for_each_key<A: Args + ?Sized>(
    spec: &CommandSpec,
    args: &A,
    mut f: impl FnMut(usize),
) -> Result<(), KeyError> {
    for_each_key_with_flags(spec, args, |i, _| f(i))
}

/// [`for_each_key`], with the [`keyspec`] flags of the spec each key was
/// found by (what ACL `%R~` / `%W~` read). Keys found by a command's own
/// parser (SORT's STORE, MIGRATE's KEYS …, where Redis's specs are
/// incomplete) get the union of the command's key-spec flags: the most any
/// of its keys may do.
///
/// # Errors
/// As [`for_each_key`].
pub fn for_each_key_with_flags<A: Args + ?Sized>(
    spec: &CommandSpec,
    args: &A,
    mut f: impl FnMut(usize, u32),
) -> Result<(), KeyError> {
    match single_key(spec, args) {
        Some(Ok((pos, flags))) => {
            f(pos, flags);
            Ok(())
        }
        Some(Err(e)) => Err(e),
        None => walk_keys(spec, args, f),
    }
}

/// The most common shape in one step: a single key spec naming one key at
/// a fixed position (GET, SET, INCR, LPUSH, HSET …). `None` for every other
/// shape. Gives exactly what [`walk_keys`] gives for these specs (the key,
/// or the out-of-range error when the request is too short), without the
/// dry run and the general range arithmetic: it runs for most requests.
fn single_key<A: Args + ?Sized>(
    spec: &CommandSpec,
    args: &A,
) -> Option<Result<(usize, u32), KeyError>> {
    let [ks] = spec.key_specs else {
        return None;
    };
    if ks.is_not_key() || ks.has_flag(keyspec::INCOMPLETE) {
        return None;
    }
    let (
        BeginSearch::Index(pos),
        FindKeys::Range {
            last_key: 0, step, ..
        },
    ) = (ks.begin, ks.find)
    else {
        return None;
    };
    Some(match usize::try_from(pos) {
        Ok(pos) if pos < args.count() && step > 0 => {
            let flags = if ks.flags & keyspec::VARIABLE_FLAGS == 0 {
                ks.flags
            } else {
                variable_flags(spec.name, args).unwrap_or(ks.flags)
            };
            Ok((pos, flags))
        }
        _ => Err(KeyError::OutOfRange),
    })
}

/// [`for_each_key_with_flags`] for any spec: the general walk.
fn walk_keys<A: Args + ?Sized>(
    spec: &CommandSpec,
    args: &A,
    mut f: impl FnMut(usize, u32),
) -> Result<(), KeyError> {
    // A dry run first: Redis discards every key found so far when a later spec
    // fails, and we cannot take back calls to `f` without a buffer.
    match walk(spec, args, Select::Keys, Mode::Strict, &mut |_, _| {}) {
        Walk::Done => {
            walk(spec, args, Select::Keys, Mode::Strict, &mut |i, flags| {
                if flags & keyspec::VARIABLE_FLAGS == 0 {
                    f(i, flags);
                } else {
                    f(i, variable_flags(spec.name, args).unwrap_or(flags));
                }
            });
            Ok(())
        }
        Walk::NoKeys => Ok(()),
        Walk::Failed(e) => Err(e),
        Walk::Fallback => {
            let all = spec
                .key_specs
                .iter()
                .filter(|k| !k.is_not_key())
                .fold(0, |acc, k| acc | k.flags);
            fallback(spec, args, &mut |i| f(i, all));
            Ok(())
        }
    }
}

/// Calls `f(i)` for every argument found by a `NOT_KEY` spec: in Redis 7.0
/// exactly the shard channels of SPUBLISH / SSUBSCRIBE / SUNSUBSCRIBE, which
/// cluster mode routes by their slot like keys. Specs that do not fit the
/// request yield nothing.
pub fn for_each_shard_channel<A: Args + ?Sized>(
    spec: &CommandSpec,
    args: &A,
    mut f: impl FnMut(usize),
) {
    walk(spec, args, Select::NotKeys, Mode::Partial, &mut |i, _| f(i));
}

/// Which specs a walk looks at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Select {
    Keys,
    NotKeys,
}

/// What a failing spec does to the walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Stop at the first failing spec (`getKeysUsingKeySpecs` default).
    Strict,
    /// Skip failing specs (`GET_KEYSPEC_RETURN_PARTIAL`).
    Partial,
}

/// Outcome of a strict walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Every spec was valid and complete.
    Done,
    /// A numkeys of 0: Redis's fallback reports no keys for the request.
    NoKeys,
    /// Malformed request.
    Failed(KeyError),
    /// An unknown spec, or an incomplete one that matched: Redis uses the
    /// command's own parser.
    Fallback,
}

/// Why a single spec could not produce keys.
enum SpecFail {
    NoKeys,
    Failed(KeyError),
    Fallback,
}

/// Walks the selected specs, calling `f` for each position (in `Strict` mode
/// only up to the first failing spec; the caller dry-runs to know).
fn walk<A: Args + ?Sized>(
    spec: &CommandSpec,
    args: &A,
    select: Select,
    mode: Mode,
    f: &mut impl FnMut(usize, u32),
) -> Walk {
    // i64 arithmetic: table values are i32 and argc is bounded by memory, so
    // nothing here can overflow (Redis uses int, with the same results for
    // every request that fits in an int).
    let argc = i64::try_from(args.count()).unwrap_or(i64::MAX);
    for ks in spec.key_specs {
        if ks.is_not_key() != (select == Select::NotKeys) {
            continue;
        }
        let fail = match positions(ks, args, argc) {
            Ok(None) => continue, // keyword not found
            Ok(Some((first, last, step))) => {
                let mut i = first;
                while i <= last {
                    if let Ok(pos) = usize::try_from(i) {
                        f(pos, ks.flags);
                    }
                    i += step;
                }
                // Redis adds an incomplete spec's keys and then gives up on
                // the specs (they only matter for RETURN_PARTIAL).
                if ks.has_flag(keyspec::INCOMPLETE) {
                    SpecFail::Fallback
                } else {
                    continue;
                }
            }
            Err(fail) => fail,
        };
        if mode == Mode::Partial {
            continue;
        }
        return match fail {
            SpecFail::NoKeys => Walk::NoKeys,
            SpecFail::Failed(e) => Walk::Failed(e),
            SpecFail::Fallback => Walk::Fallback,
        };
    }
    Walk::Done
}

/// `(first, last, step)` of one spec, with every index checked to lie in
/// `[0, argc)`; `Ok(None)` when its keyword is absent.
fn positions<A: Args + ?Sized>(
    ks: &KeySpec,
    args: &A,
    argc: i64,
) -> Result<Option<(i64, i64, i64)>, SpecFail> {
    let begin = match ks.begin {
        BeginSearch::Index(pos) => i64::from(pos),
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => match find_keyword(args, argc, keyword, start_from) {
            Some(first) => first,
            None => return Ok(None),
        },
        BeginSearch::Unknown => return Err(SpecFail::Fallback),
    };
    let (first, last, step) = match ks.find {
        FindKeys::Range {
            last_key,
            step,
            limit,
        } => {
            let (last_key, limit) = (i64::from(last_key), i64::from(limit));
            let last = if last_key >= 0 {
                begin + last_key
            } else if limit == 0 {
                argc + last_key
            } else {
                // Integer division truncating toward zero, as in C. Redis
                // asserts last_key == -1 here; other values keep the formula.
                begin + ((argc - begin) / limit + last_key)
            };
            (begin, last, i64::from(step))
        }
        FindKeys::Keynum {
            keynum_idx,
            first_key,
            step,
        } => {
            let idx = begin + i64::from(keynum_idx);
            let raw = usize::try_from(idx)
                .ok()
                .and_then(|i| args.get(i))
                .ok_or(SpecFail::Failed(KeyError::InvalidNumkeys))?;
            let numkeys = match string2ll(raw) {
                Some(n) if n >= 0 => n,
                _ => return Err(SpecFail::Failed(KeyError::InvalidNumkeys)),
            };
            if numkeys == 0 {
                // Redis: last < first, so the spec is invalid and the
                // fallback (genericGetKeys) reports no keys at all.
                return Err(SpecFail::NoKeys);
            }
            if numkeys > i64::from(i32::MAX) {
                return Err(SpecFail::Failed(KeyError::OutOfRange));
            }
            let first = begin + i64::from(first_key);
            (first, first + numkeys - 1, i64::from(step))
        }
        FindKeys::Unknown => return Err(SpecFail::Fallback),
    };
    // Redis: "First or last is out of bounds, which indicates a syntax error".
    // A negative first or a non-positive step never comes from a real table;
    // rejecting them keeps us in bounds and loop-free.
    if last >= argc || last < first || first >= argc || first < 0 || step <= 0 {
        return Err(SpecFail::Failed(KeyError::OutOfRange));
    }
    Ok(Some((first, last, step)))
}

/// Index right after `keyword`, searched like `getKeysUsingKeySpecs`: the
/// end index itself is never examined (positive search: the last argument,
/// which could not be followed by a key; negative search: argument 1).
fn find_keyword<A: Args + ?Sized>(
    args: &A,
    argc: i64,
    keyword: &str,
    start_from: i32,
) -> Option<i64> {
    let start_from = i64::from(start_from);
    let (start, end) = if start_from > 0 {
        (start_from, argc - 1)
    } else {
        (argc + start_from, 1)
    };
    let forward = start <= end;
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            break;
        }
        if arg_is(args, i, keyword) {
            return Some(i + 1);
        }
        i = if forward { i + 1 } else { i - 1 };
    }
    None
}

/// `strcasecmp(argv[i], word) == 0`: the argument read as a C string (up to
/// its first NUL), compared ASCII case-insensitively.
fn arg_is<A: Args + ?Sized>(args: &A, i: i64, word: &str) -> bool {
    let Some(arg) = usize::try_from(i).ok().and_then(|i| args.get(i)) else {
        return false;
    };
    let c_str = arg.split(|&b| b == 0).next().unwrap_or(arg);
    c_str.eq_ignore_ascii_case(word.as_bytes())
}

/// The flags Redis 7.0's own getkeys parser gives the key of a command
/// whose spec says `VARIABLE_FLAGS` (`setGetKeys`, `bitfieldGetKeys`).
fn variable_flags<A: Args + ?Sized>(name: &str, args: &A) -> Option<u32> {
    let argc = args.count();
    match name {
        // SET … GET reads the old value; otherwise it only overwrites.
        "set" => Some(
            if (3..argc).any(|i| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(b"get"))) {
                keyspec::RW | keyspec::ACCESS | keyspec::UPDATE
            } else {
                keyspec::OW | keyspec::UPDATE
            },
        ),
        // Read-only unless a SET / INCRBY (or anything malformed) appears.
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < argc {
                let rem = argc - i - 1;
                let arg = args.get(i).unwrap_or_default();
                let is = |w: &[u8]| arg.eq_ignore_ascii_case(w);
                if is(b"get") && rem >= 2 {
                    i += 2;
                } else if (is(b"set") || is(b"incrby")) && rem >= 3 {
                    readonly = false;
                    break;
                } else if is(b"overflow") && rem >= 1 {
                    i += 1;
                } else {
                    readonly = false;
                    break;
                }
                i += 1;
            }
            Some(if readonly {
                keyspec::RO | keyspec::ACCESS
            } else {
                keyspec::RW | keyspec::ACCESS | keyspec::UPDATE
            })
        }
        _ => None,
    }
}

/// The command's own getkeys parser, used when its specs cannot answer.
fn fallback<A: Args + ?Sized>(spec: &CommandSpec, args: &A, f: &mut impl FnMut(usize)) {
    match spec.name {
        "sort" => sort_keys(args, f),
        // sortROGetKeys: argument 1, always present given the arity.
        "sort_ro" if args.count() > 1 => f(1),
        "migrate" => migrate_keys(args, f),
        _ => {
            walk(spec, args, Select::Keys, Mode::Partial, &mut |i, _| f(i));
        }
    }
}

/// Redis 7.0 `sortGetKeys`: argument 1, then the argument after the last
/// `STORE` that has one. The scan treats the STORE value itself as a possible
/// option name (so a destination called "limit" skips two), exactly as Redis.
fn sort_keys<A: Args + ?Sized>(args: &A, f: &mut impl FnMut(usize)) {
    let argc = args.count();
    if argc < 2 {
        return;
    }
    f(1);
    let mut store = None;
    let mut i = 2;
    while i < argc {
        let arg = i64::try_from(i).unwrap_or(i64::MAX);
        if arg_is(args, arg, "limit") {
            i += 2;
        } else if arg_is(args, arg, "get") || arg_is(args, arg, "by") {
            i += 1;
        } else if arg_is(args, arg, "store") && i + 1 < argc {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(dst) = store {
        f(dst);
    }
}

/// Redis 7.0 `migrateGetKeys`.
fn migrate_keys<A: Args + ?Sized>(args: &A, f: &mut impl FnMut(usize)) {
    let argc = args.count();
    let (mut first, mut num) = (3, 1);
    let mut i = 6;
    while i < argc {
        let arg = i64::try_from(i).unwrap_or(i64::MAX);
        if arg_is(args, arg, "keys") {
            if args.get(3).is_some_and(|k| !k.is_empty()) {
                // Both a key and KEYS: a syntax error MIGRATE reports itself.
                num = 0;
            } else {
                first = i + 1;
                num = argc - first;
            }
            break;
        }
        if arg_is(args, arg, "auth") {
            i += 1;
        } else if arg_is(args, arg, "auth2") {
            i += 2;
        }
        i += 1;
    }
    for pos in first..first + num {
        if pos < argc {
            f(pos);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use slotway_resp::num::string2ll;

    use super::{single_key, walk_keys};
    use crate::table::COMMANDS;

    #[test]
    fn the_single_key_shortcut_agrees_with_the_general_walk() {
        let words = ["k", "GET", "get", "2", "0", "x", "EX", "10"];
        let mut shortcut_used = 0;
        for spec in COMMANDS
            .iter()
            .chain(COMMANDS.iter().flat_map(|c| c.subcommands))
        {
            for argc in 0..7 {
                for shift in 0..words.len() {
                    let args: Vec<&str> = std::iter::once(spec.name)
                        .chain(words.iter().cycle().skip(shift).copied())
                        .take(argc)
                        .collect();
                    let Some(fast) = single_key(spec, &args[..]) else {
                        continue;
                    };
                    shortcut_used += 1;
                    let mut general = Vec::new();
                    let walked = walk_keys(spec, &args[..], |i, flags| general.push((i, flags)));
                    match fast {
                        Ok(key) => assert_eq!(general, vec![key], "{args:?}"),
                        Err(e) => assert_eq!(walked, Err(e), "{args:?}"),
                    }
                }
            }
        }
        assert!(shortcut_used > 1000, "{shortcut_used}");
    }

    #[test]
    fn string2ll_is_strict() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"7"), Some(7));
        assert_eq!(string2ll(b"-3"), Some(-3));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"00",
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"123456789012345678901",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
