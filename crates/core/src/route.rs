//! Routing decisions: for one client request, what the proxy does with it.
//! Pure (no I/O, no locks): the session applies the decision.
//!
//! Order of checks, as Redis does them: unknown command, unknown subcommand,
//! arity, then what the proxy itself handles, then refusal of commands that
//! would break a shared backend connection (connection state, blocking,
//! pub/sub, transactions: they need dedicated connections), then the keys:
//! every key must hash to one slot, else `-CROSSSLOT`.

use slotway_command::{Args, CommandSpec, Resolved, flags};
use slotway_hashkit::key_slot;
use slotway_resp::Request;

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Answered by the proxy itself.
    Local(Local),
    /// Forward to a node.
    Forward(Forward),
    /// Reply with an error at once.
    Reject(Reject),
}

/// Where a forwarded request goes, and whether it may be retried after its
/// connection broke (only commands that change nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The slot of its keys; `None` for a keyless command (any master).
    pub slot: Option<u16>,
    /// The command is read-only.
    pub readonly: bool,
}

/// Commands the proxy answers itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local {
    /// PING [message]
    Ping,
    /// ECHO message
    Echo,
    /// QUIT
    Quit,
    /// HELLO [protover [AUTH user pass] [SETNAME name]]
    Hello,
    /// SELECT db
    Select,
    /// RESET
    Reset,
    /// AUTH [user] pass
    Auth,
    /// CLIENT SETNAME
    ClientSetName,
    /// CLIENT GETNAME
    ClientGetName,
    /// CLIENT ID
    ClientId,
    /// CLIENT SETINFO
    ClientSetInfo,
    /// CLUSTER KEYSLOT
    ClusterKeyslot,
}

/// Why a request is refused before reaching Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// No such command.
    UnknownCommand,
    /// No such subcommand of a container command.
    UnknownSubcommand,
    /// Wrong number of arguments.
    Arity(&'static CommandSpec),
    /// Wrong number of arguments of a command the table does not have.
    ArityOf(&'static str),
    /// Keys in different slots.
    CrossSlot,
    /// Needs a dedicated backend connection (not available yet).
    NeedsDedicated(&'static str),
    /// Refused in front of a cluster (administration of the nodes).
    Refused(&'static str),
}

impl Reject {
    /// The error reply text (without `-` and CRLF), worded as Redis words it
    /// where Redis has the same error.
    #[must_use]
    pub fn message(&self, req: &Request) -> Vec<u8> {
        let name = req.arg(0).unwrap_or_default();
        let mut m = Vec::with_capacity(96);
        match self {
            Self::UnknownCommand => {
                m.extend_from_slice(b"ERR unknown command '");
                m.extend_from_slice(c_string(name, 128));
                m.extend_from_slice(b"', with args beginning with: ");
                // Like Redis: quoted args while the list is under 128 bytes.
                let mut listed = 0usize;
                for arg in req.args().skip(1) {
                    if listed >= 128 {
                        break;
                    }
                    let arg = c_string(arg, 128 - listed);
                    m.push(b'\'');
                    m.extend_from_slice(arg);
                    m.extend_from_slice(b"' ");
                    listed += arg.len() + 3;
                }
            }
            Self::UnknownSubcommand => {
                m.extend_from_slice(b"ERR unknown subcommand '");
                m.extend_from_slice(c_string(req.arg(1).unwrap_or_default(), 128));
                m.extend_from_slice(b"'. Try ");
                m.extend(
                    c_string(name, usize::MAX)
                        .iter()
                        .map(u8::to_ascii_uppercase),
                );
                m.extend_from_slice(b" HELP.");
            }
            Self::Arity(spec) => arity(&mut m, spec.name),
            Self::ArityOf(name) => arity(&mut m, name),
            Self::CrossSlot => {
                m.extend_from_slice(b"CROSSSLOT Keys in request don't hash to the same slot");
            }
            Self::NeedsDedicated(what) => {
                m.extend_from_slice(b"ERR slotway: ");
                m.extend_from_slice(what.as_bytes());
                m.extend_from_slice(
                    b" need a dedicated backend connection, which this version of the proxy does not provide yet",
                );
            }
            Self::Refused(what) => {
                m.extend_from_slice(b"ERR slotway: '");
                m.extend(c_string(name, 64).iter().map(u8::to_ascii_lowercase));
                m.extend_from_slice(b"' is not allowed through the proxy (");
                m.extend_from_slice(what.as_bytes());
                m.push(b')');
            }
        }
        m
    }
}

fn arity(m: &mut Vec<u8>, fullname: &str) {
    m.extend_from_slice(b"ERR wrong number of arguments for '");
    m.extend_from_slice(fullname.as_bytes());
    m.extend_from_slice(b"' command");
}

/// What Redis prints of an argument with `%.Ns`: up to the first NUL, at most `max` bytes.
fn c_string(arg: &[u8], max: usize) -> &[u8] {
    let end = arg
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(arg.len())
        .min(max);
    arg.get(..end).unwrap_or_default()
}

/// Adapter: a parsed request as the command table's argument list.
pub struct ReqArgs<'a>(pub &'a Request);

impl Args for ReqArgs<'_> {
    fn count(&self) -> usize {
        self.0.argc()
    }
    fn get(&self, i: usize) -> Option<&[u8]> {
        self.0.arg(i)
    }
}

/// Decides what to do with `req`.
#[must_use]
pub fn route(req: &Request) -> Route {
    let args = ReqArgs(req);
    // CLIENT SETINFO arrived in Redis 7.2 and is not in the 7.0 table, yet
    // every modern client sends it on connect: the proxy answers it itself.
    if is_client_setinfo(req) {
        return if req.argc() == 4 {
            Route::Local(Local::ClientSetInfo)
        } else {
            Route::Reject(Reject::ArityOf("client|setinfo"))
        };
    }
    let spec = match slotway_command::resolve(&args) {
        Resolved::Command(spec) => spec,
        Resolved::UnknownCommand => return Route::Reject(Reject::UnknownCommand),
        Resolved::UnknownSubcommand(_) => return Route::Reject(Reject::UnknownSubcommand),
    };
    if !spec.arity_ok(req.argc()) {
        return Route::Reject(Reject::Arity(spec));
    }
    if let Some(r) = special(spec.name, req) {
        return r;
    }
    if spec.has_flag(flags::BLOCKING) && blocks(spec.name, req) {
        return Route::Reject(Reject::NeedsDedicated("blocking commands"));
    }
    match slot_of(spec, &args) {
        Ok(slot) => Route::Forward(Forward {
            slot,
            readonly: spec.has_flag(flags::READONLY),
        }),
        Err(reject) => Route::Reject(reject),
    }
}

/// Commands decided by name: local ones, and ones a shared connection cannot carry.
fn special(name: &str, req: &Request) -> Option<Route> {
    use Route::{Local as L, Reject as R};
    let route = match name {
        "ping" => L(Local::Ping),
        "echo" => L(Local::Echo),
        "quit" => L(Local::Quit),
        "hello" => L(Local::Hello),
        "select" => L(Local::Select),
        "reset" => L(Local::Reset),
        "auth" => L(Local::Auth),
        "client|setname" => L(Local::ClientSetName),
        "client|getname" => L(Local::ClientGetName),
        "client|id" => L(Local::ClientId),
        "cluster|keyslot" => L(Local::ClusterKeyslot),
        "multi" | "exec" | "discard" | "watch" | "unwatch" => {
            R(Reject::NeedsDedicated("transactions"))
        }
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe"
        | "sunsubscribe" => R(Reject::NeedsDedicated("pub/sub")),
        "wait" => R(Reject::NeedsDedicated("WAIT")),
        "readonly" | "readwrite" => R(Reject::NeedsDedicated("READONLY/READWRITE")),
        "monitor" | "sync" | "psync" | "replconf" => R(Reject::Refused("replication streams")),
        "shutdown" | "debug" | "failover" | "replicaof" | "slaveof" | "module" => {
            R(Reject::Refused("node administration"))
        }
        n if n.starts_with("client|") => R(Reject::NeedsDedicated("this CLIENT subcommand")),
        n if n.starts_with("cluster|") => R(Reject::Refused("this CLUSTER subcommand")),
        _ => return None,
    };
    let _ = req;
    Some(route)
}

fn is_client_setinfo(req: &Request) -> bool {
    req.arg(0)
        .is_some_and(|a| a.eq_ignore_ascii_case(b"client"))
        && req
            .arg(1)
            .is_some_and(|a| a.eq_ignore_ascii_case(b"setinfo"))
}

/// XREAD/XREADGROUP carry the blocking flag but only block with `BLOCK`.
fn blocks(name: &str, req: &Request) -> bool {
    match name {
        "xread" | "xreadgroup" => req
            .args()
            .skip(1)
            .take_while(|a| !a.eq_ignore_ascii_case(b"streams"))
            .any(|a| a.eq_ignore_ascii_case(b"block")),
        _ => true,
    }
}

/// The slot all keys hash to, `None` for keyless commands, or CROSSSLOT.
fn slot_of(spec: &CommandSpec, args: &ReqArgs<'_>) -> Result<Option<u16>, Reject> {
    let mut slot: Option<u16> = None;
    let mut cross = false;
    let found = slotway_command::for_each_key(spec, args, |i| {
        if let Some(key) = args.0.arg(i) {
            let s = key_slot(key);
            match slot {
                None => slot = Some(s),
                Some(prev) if prev != s => cross = true,
                Some(_) => {}
            }
        }
    });
    if found.is_err() {
        // Malformed key count (e.g. EVAL numkeys beyond the arguments): let
        // Redis produce its own exact error.
        return Ok(None);
    }
    if cross {
        Err(Reject::CrossSlot)
    } else {
        Ok(slot)
    }
}

/// A redirect or retry request parsed from an error reply frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirect<'a> {
    /// `-MOVED slot addr`: the slot lives elsewhere for good.
    Moved {
        /// Slot.
        slot: u16,
        /// New owner, `host:port` (host may be empty: same host).
        addr: &'a str,
    },
    /// `-ASK slot addr`: this one request goes to `addr` after `ASKING`.
    Ask {
        /// Slot.
        slot: u16,
        /// Importing node.
        addr: &'a str,
    },
    /// `-TRYAGAIN` (multi-key request during a slot migration) or
    /// `-CLUSTERDOWN`: nothing was executed, retry after a short delay.
    Retry,
}

/// Parses a reply frame (`-MOVED 3999 127.0.0.1:6381\r\n`, …).
#[must_use]
pub fn redirect(frame: &[u8]) -> Option<Redirect<'_>> {
    let body = frame.strip_prefix(b"-")?;
    let end = body.iter().position(|&b| b == b'\r').unwrap_or(body.len());
    let line = std::str::from_utf8(body.get(..end)?).ok()?;
    let mut parts = line.split(' ');
    let kind = parts.next()?;
    match kind {
        "MOVED" | "ASK" => {
            let slot: u16 = parts.next()?.parse().ok()?;
            let addr = parts.next()?;
            if slot >= slotway_hashkit::SLOT_COUNT {
                return None;
            }
            Some(if kind == "MOVED" {
                Redirect::Moved { slot, addr }
            } else {
                Redirect::Ask { slot, addr }
            })
        }
        "TRYAGAIN" | "CLUSTERDOWN" => Some(Redirect::Retry),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(args: &[&str]) -> Route {
        route(&Request::from_args(args.iter().map(|a| a.as_bytes())))
    }

    /// A read-only command for slot `s`.
    #[allow(non_snake_case)]
    fn Slot(s: u16) -> Route {
        Route::Forward(Forward {
            slot: Some(s),
            readonly: true,
        })
    }

    #[test]
    fn keyed_commands_route_by_slot() {
        let w = |slot| {
            Route::Forward(Forward {
                slot,
                readonly: false,
            })
        };
        assert_eq!(r(&["GET", "foo"]), Slot(12182));
        assert_eq!(r(&["set", "foo", "1"]), w(Some(12182)));
        assert_eq!(r(&["MGET", "{a}1", "{a}2"]), Slot(key_slot(b"a")));
        assert_eq!(r(&["MGET", "a", "b"]), Route::Reject(Reject::CrossSlot));
        assert_eq!(r(&["EVAL", "return 1", "0"]), w(None));
        assert_eq!(r(&["EVAL", "return 1", "5", "k"]), w(None));
        assert_eq!(r(&["XREAD", "STREAMS", "s", "0"]), Slot(key_slot(b"s")));
    }

    #[test]
    fn checks_come_in_redis_order() {
        assert_eq!(r(&["NOPE"]), Route::Reject(Reject::UnknownCommand));
        assert_eq!(
            r(&["OBJECT", "NOPE", "x"]),
            Route::Reject(Reject::UnknownSubcommand)
        );
        assert!(matches!(r(&["GET"]), Route::Reject(Reject::Arity(_))));
        assert_eq!(r(&["ping"]), Route::Local(Local::Ping));
        assert_eq!(
            r(&["client", "SETINFO", "lib-name", "x"]),
            Route::Local(Local::ClientSetInfo)
        );
        assert_eq!(
            r(&["client", "SETINFO", "lib-name"]),
            Route::Reject(Reject::ArityOf("client|setinfo"))
        );
        assert!(matches!(
            r(&["BLPOP", "l", "0"]),
            Route::Reject(Reject::NeedsDedicated(_))
        ));
        assert!(matches!(
            r(&["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]),
            Route::Reject(Reject::NeedsDedicated(_))
        ));
        assert!(matches!(
            r(&["MULTI"]),
            Route::Reject(Reject::NeedsDedicated(_))
        ));
        assert_eq!(
            r(&["DBSIZE"]),
            Route::Forward(Forward {
                slot: None,
                readonly: true
            })
        );
    }

    #[test]
    fn reject_messages_match_redis() {
        let msg = |args: &[&str]| {
            let req = Request::from_args(args.iter().map(|a| a.as_bytes()));
            let Route::Reject(rej) = route(&req) else {
                panic!("not rejected: {args:?}")
            };
            String::from_utf8(rej.message(&req)).unwrap()
        };
        assert_eq!(
            msg(&["FOO"]),
            "ERR unknown command 'FOO', with args beginning with: "
        );
        assert_eq!(
            msg(&["foo", "a", "b"]),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            msg(&["object", "nope", "k"]),
            "ERR unknown subcommand 'nope'. Try OBJECT HELP."
        );
        assert_eq!(
            msg(&["get"]),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            msg(&["client", "setname"]),
            "ERR wrong number of arguments for 'client|setname' command"
        );
        assert_eq!(
            msg(&["mset", "a", "1", "b", "2"]),
            "CROSSSLOT Keys in request don't hash to the same slot"
        );
    }

    #[test]
    fn redirects_parse() {
        assert_eq!(
            redirect(b"-MOVED 3999 127.0.0.1:6381\r\n"),
            Some(Redirect::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381"
            })
        );
        assert_eq!(
            redirect(b"-ASK 1 h:1\r\n"),
            Some(Redirect::Ask {
                slot: 1,
                addr: "h:1"
            })
        );
        assert_eq!(
            redirect(b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"),
            Some(Redirect::Retry)
        );
        assert_eq!(
            redirect(b"-CLUSTERDOWN The cluster is down\r\n"),
            Some(Redirect::Retry)
        );
        assert_eq!(redirect(b"-ERR wrong\r\n"), None);
        assert_eq!(redirect(b"-MOVED 99999 h:1\r\n"), None);
        assert_eq!(redirect(b"+OK\r\n"), None);
    }
}
