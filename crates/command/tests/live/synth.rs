//! Synthesizes concrete requests for a command from its `COMMAND DOCS`
//! argument tree, so the live test can exercise every command without a
//! hand-written example for each. `COMMAND GETKEYS` only checks arity and key
//! positions, so requests need the right shape, not valid values.
//!
//! Keys get unique names (`key:1`, `key:2`, ...) so they are unmistakable in
//! `GETKEYS` replies; an integer argument named `numkeys` is set to the number
//! of keys generated for the key argument that follows it.

use crate::redis::Value;

/// How to expand optional / repeated / alternative arguments.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Include optional arguments.
    pub full: bool,
    /// Repetitions of `multiple` arguments.
    pub reps: usize,
    /// Pick the last alternative of a `oneof` (else the first).
    pub last_alt: bool,
}

pub const VARIANTS: [Variant; 4] = [
    Variant {
        full: false,
        reps: 1,
        last_alt: false,
    },
    Variant {
        full: false,
        reps: 2,
        last_alt: true,
    },
    Variant {
        full: true,
        reps: 2,
        last_alt: false,
    },
    Variant {
        full: true,
        reps: 3,
        last_alt: true,
    },
];

/// `prefix` (command, and subcommand, name) followed by arguments for
/// `arguments` (the docs' argument list, if any).
pub fn request(prefix: &[&str], arguments: Option<&Value>, v: Variant) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = prefix.iter().map(|s| s.as_bytes().to_vec()).collect();
    let mut next_key = 0;
    if let Some(args) = arguments {
        list(args.array(), v, &mut out, &mut next_key);
    }
    out
}

fn list(args: &[Value], v: Variant, out: &mut Vec<Vec<u8>>, next_key: &mut usize) {
    for (idx, a) in args.iter().enumerate() {
        let m = a.map();
        let flags = m.get("flags").map(|f| f.strs()).unwrap_or_default();
        if flags.contains(&"optional") && !v.full {
            continue;
        }
        let reps = if flags.contains(&"multiple") {
            v.reps
        } else {
            1
        };
        for r in 0..reps {
            if let Some(tok) = m.get("token")
                && (r == 0 || flags.contains(&"multiple_token"))
            {
                out.push(tok.str().as_bytes().to_vec());
            }
            one(a, &args[idx + 1..], v, out, next_key);
        }
    }
}

/// The value of one argument (its token, if any, is already out).
fn one(a: &Value, following: &[Value], v: Variant, out: &mut Vec<Vec<u8>>, next_key: &mut usize) {
    let m = a.map();
    let push = |out: &mut Vec<Vec<u8>>, s: &str| out.push(s.as_bytes().to_vec());
    match m["type"].str() {
        "pure-token" => {}
        "key" => {
            *next_key += 1;
            push(out, &format!("key:{next_key}"));
        }
        "integer" if m["name"].str() == "numkeys" => {
            push(out, &keys_after(following, v).to_string())
        }
        "integer" => push(out, "1"),
        "double" => push(out, "1.5"),
        "unix-time" => push(out, "1700000000"),
        "pattern" => push(out, "pat*"),
        "string" => push(out, "str"),
        "block" => list(m["arguments"].array(), v, out, next_key),
        "oneof" => {
            let alts = m["arguments"].array();
            let alt = if v.last_alt {
                alts.last()
            } else {
                alts.first()
            }
            .unwrap();
            // The chosen alternative is present even if flagged optional.
            let forced = Variant { full: true, ..v };
            list(std::slice::from_ref(alt), forced, out, next_key);
        }
        other => panic!("unknown argument type {other}"),
    }
}

/// How many keys `list` will emit for the first key argument in `following`.
fn keys_after(following: &[Value], v: Variant) -> usize {
    for a in following {
        let m = a.map();
        if m["type"].str() != "key" {
            continue;
        }
        let flags = m.get("flags").map(|f| f.strs()).unwrap_or_default();
        if flags.contains(&"optional") && !v.full {
            return 0;
        }
        return if flags.contains(&"multiple") {
            v.reps
        } else {
            1
        };
    }
    1
}
