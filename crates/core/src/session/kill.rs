//! CLIENT KILL over the proxy's own clients: the old `CLIENT KILL ip:port`
//! form (`+OK` or `No such client`) and the filter form (`ID`, `ADDR`,
//! `LADDR`, `USER`, `TYPE`, `SKIPME`), which answers how many were killed.

use bytes::BytesMut;
use slotway_resp::{Request, encode};

use super::local::{After, Context};

/// Answers CLIENT KILL; `After::Close` when the client killed itself.
pub fn kill(req: &Request, ctx: &Context<'_>, out: &mut BytesMut) -> After {
    let me = ctx.me.id;
    let text = |i| req.arg(i).map(|a| String::from_utf8_lossy(a).into_owned());
    if req.argc() == 3 {
        let addr = text(2).unwrap_or_default();
        let target = ctx
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr.is_some_and(|a| a.to_string() == addr));
        return match target {
            Some(c) => {
                encode::simple(out, b"OK");
                finish(&c, me)
            }
            None => {
                encode::error(out, b"ERR No such client");
                After::Continue
            }
        };
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skipme = true;
    let mut i = 2;
    while i + 1 < req.argc() {
        let (Some(key), Some(value)) = (text(i), text(i + 1)) else {
            break;
        };
        match key.to_ascii_lowercase().as_str() {
            "id" => match value.parse::<u64>() {
                Ok(v) if v > 0 => id = Some(v),
                _ => {
                    encode::error(out, b"ERR client-id should be greater than 0");
                    return After::Continue;
                }
            },
            "addr" => addr = Some(value),
            "laddr" => laddr = Some(value),
            "skipme" => match value.to_ascii_lowercase().as_str() {
                "yes" => skipme = true,
                "no" => skipme = false,
                _ => {
                    encode::error(out, b"ERR syntax error");
                    return After::Continue;
                }
            },
            "user" if value == "default" => {}
            "user" => {
                let msg = format!("ERR No such user '{value}'");
                encode::error(out, msg.as_bytes());
                return After::Continue;
            }
            "type" => match value.to_ascii_lowercase().as_str() {
                "normal" | "pubsub" => {}
                // The proxy has no master or replica clients.
                "master" | "replica" | "slave" => id = Some(0),
                _ => {
                    let msg = format!("ERR Unknown client type '{value}'");
                    encode::error(out, msg.as_bytes());
                    return After::Continue;
                }
            },
            _ => {
                encode::error(out, b"ERR syntax error");
                return After::Continue;
            }
        }
        i += 2;
    }
    if i != req.argc() {
        encode::error(out, b"ERR syntax error");
        return After::Continue;
    }
    let mut killed = 0;
    let mut after = After::Continue;
    for c in ctx.clients.all() {
        let matches = id.is_none_or(|v| v == c.id)
            && addr
                .as_ref()
                .is_none_or(|a| c.addr.is_some_and(|x| x.to_string() == *a))
            && laddr
                .as_ref()
                .is_none_or(|a| c.laddr.is_some_and(|x| x.to_string() == *a))
            && !(skipme && c.id == me);
        if matches {
            killed += 1;
            if finish(&c, me) == After::Close {
                after = After::Close;
            }
        }
    }
    encode::integer(out, killed);
    after
}

/// Kills `c`; a client killing itself closes after this reply instead.
fn finish(c: &super::clients::Client, me: u64) -> After {
    if c.id == me {
        After::Close
    } else {
        c.kill();
        After::Continue
    }
}
