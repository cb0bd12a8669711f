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

mod redirect;

pub use redirect::{Redirect, redirect};

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Answered by the proxy itself.
    Local(Local),
    /// Forward to a node.
    Forward(Forward),
    /// Keys span slots: one sub-request per slot, replies merged.
    Split {
        /// How replies combine.
        merge: Merge,
        /// Read-only (parts may be retried after a lost connection).
        readonly: bool,
    },
    /// Sent to every master (or every node), replies merged.
    Fanout {
        /// How replies combine.
        merge: Merge,
        /// Which nodes.
        scope: Scope,
        /// Read-only (parts may be retried after a lost connection).
        readonly: bool,
    },
    /// SCAN: a cursor that walks every master in turn.
    Scan,
    /// A blocking command: forwarded on a dedicated connection so it never
    /// stalls another client.
    Blocking(Forward),
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH.
    Txn(Txn),
    /// Subscriptions, on the client's own subscriber connections.
    PubSub(PubSub),
    /// WAIT: replicas' acknowledgement of this client's writes, watched by
    /// the proxy on its own connections.
    Wait,
    /// Reply with an error at once.
    Reject(Reject),
}

/// How the replies of the sub-requests of one client request combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// MGET: values back in the client's key order.
    Mget,
    /// Integers summed (DEL, UNLINK, EXISTS, TOUCH, DBSIZE, PUBSUB NUMPAT).
    SumInts,
    /// `+OK` when every part says OK (MSET, FLUSHALL, SCRIPT FLUSH …).
    AllOk,
    /// Every part must succeed; the first reply stands for all (SCRIPT LOAD,
    /// FUNCTION LOAD: every master answers the same).
    First,
    /// Arrays concatenated (KEYS).
    Concat,
    /// Arrays merged without duplicates (PUBSUB CHANNELS / SHARDCHANNELS).
    Union,
    /// Arrays of 0/1 combined element-wise with AND (SCRIPT EXISTS).
    AndInts,
    /// Any non-nil reply (RANDOMKEY).
    AnyNonNil,
    /// Flat `name, count` pairs summed per name (PUBSUB NUMSUB / SHARDNUMSUB).
    SumPairs,
    /// INFO: the proxy's own view with totals summed over masters.
    Info,
    /// `+OK` when any part says OK, else the first reply (SCRIPT KILL,
    /// FUNCTION KILL: only the node running the script can kill it).
    AnyOk,
}

/// Transaction commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Txn {
    /// MULTI
    Multi,
    /// EXEC
    Exec,
    /// DISCARD
    Discard,
    /// WATCH, with the slot of its keys.
    Watch(u16),
    /// UNWATCH
    Unwatch,
}

/// Subscription commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PubSub {
    /// SUBSCRIBE / PSUBSCRIBE (cluster-wide channels).
    Subscribe,
    /// UNSUBSCRIBE / PUNSUBSCRIBE.
    Unsubscribe,
    /// SSUBSCRIBE, with the slot of its channels.
    SSubscribe(u16),
    /// SUNSUBSCRIBE: the slot of its channels, `None` for all.
    SUnsubscribe(Option<u16>),
}

/// Which nodes a fan-out reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every master.
    Masters,
    /// Every node, replicas included (operator-enabled CONFIG SET, SAVE …).
    AllNodes,
}

/// Operator choices that change routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Split MGET/MSET/DEL/UNLINK/EXISTS/TOUCH across slots (else CROSSSLOT).
    pub split_multi_key: bool,
    /// Let CONFIG SET/RESETSTAT and SAVE/BGSAVE/BGREWRITEAOF reach every node.
    pub fanout_admin: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            split_multi_key: true,
            fanout_admin: false,
        }
    }
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
    /// ASKING from a client: meaningless through the proxy, answered OK.
    Asking,
    /// READONLY: this client's reads may be served by replicas.
    ReadOnly,
    /// CLIENT LIST
    ClientList,
    /// CLIENT INFO
    ClientInfo,
    /// CLIENT KILL
    ClientKill,
    /// CLIENT REPLY ON|OFF|SKIP
    ClientReply,
    /// CLIENT NO-EVICT (the proxy evicts nothing: always OK)
    ClientNoEvict,
    /// CLIENT GETREDIR (no tracking: -1)
    ClientGetRedir,
    /// READWRITE: back to masters only.
    ReadWrite,
    /// CLUSTER INFO / SLOTS / SHARDS / NODES / MYID: the proxy as a
    /// one-node cluster owning every slot.
    ClusterView(ClusterView),
}

/// The CLUSTER subcommands answered with the proxy's one-node view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterView {
    /// CLUSTER INFO
    Info,
    /// CLUSTER SLOTS
    Slots,
    /// CLUSTER SHARDS
    Shards,
    /// CLUSTER NODES
    Nodes,
    /// CLUSTER MYID
    MyId,
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
    /// Not available through the proxy.
    Unsupported(&'static str),
    /// Redis Cluster's own error for this command, word for word.
    Redis(&'static str),
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
            Self::Redis(msg) => m.extend_from_slice(msg.as_bytes()),
            Self::Unsupported(what) => {
                m.extend_from_slice(b"ERR slotway: ");
                m.extend_from_slice(what.as_bytes());
                m.extend_from_slice(b" is not supported through the proxy");
            }
            Self::Refused(what) => {
                m.extend_from_slice(b"ERR slotway: '");
                m.extend(c_string(name, 64).iter().map(u8::to_ascii_lowercase));
                // Name the subcommand too: CONFIG SET is refused, CONFIG GET is not.
                if slotway_command::lookup(name).is_some_and(CommandSpec::is_container)
                    && let Some(sub) = req.arg(1)
                {
                    m.push(b' ');
                    m.extend(c_string(sub, 64).iter().map(u8::to_ascii_lowercase));
                }
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
pub fn route(req: &Request, policy: Policy) -> Route {
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
    if let Some(r) = special(spec, req, policy) {
        return r;
    }
    let blocking = spec.has_flag(flags::BLOCKING) && blocks(spec.name, req);
    match slot_of(spec, &args) {
        Ok(slot) if blocking => Route::Blocking(Forward {
            slot,
            readonly: spec.has_flag(flags::READONLY),
        }),
        Ok(slot) => Route::Forward(Forward {
            slot,
            readonly: spec.has_flag(flags::READONLY),
        }),
        // MSET's pairs are checked inside the command in Redis, after arity:
        // a split must not turn a dangling key into a write of "".
        Err(Reject::CrossSlot)
            if policy.split_multi_key && spec.name == "mset" && req.argc().is_multiple_of(2) =>
        {
            Route::Reject(Reject::Arity(spec))
        }
        Err(Reject::CrossSlot) if policy.split_multi_key => match split_merge(spec.name) {
            Some(merge) => Route::Split {
                merge,
                readonly: spec.has_flag(flags::READONLY),
            },
            None => Route::Reject(Reject::CrossSlot),
        },
        Err(reject) => Route::Reject(reject),
    }
}

/// The multi-key commands that keep their meaning when split by slot.
fn split_merge(name: &str) -> Option<Merge> {
    match name {
        "mget" => Some(Merge::Mget),
        "mset" => Some(Merge::AllOk),
        "del" | "unlink" | "exists" | "touch" => Some(Merge::SumInts),
        _ => None,
    }
}

/// The slot named by CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT's argument.
fn slot_arg(req: &Request) -> Route {
    let slot = req
        .arg(2)
        .and_then(slotway_resp::num::string2ll)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|&s| s < slotway_hashkit::SLOT_COUNT);
    // An invalid slot goes anywhere: the node answers with Redis's own error.
    Route::Forward(Forward {
        slot,
        readonly: true,
    })
}

/// Commands decided by name: local ones, fan-outs, and ones a shared
/// connection cannot carry.
fn special(spec: &CommandSpec, req: &Request, policy: Policy) -> Option<Route> {
    use Route::{Local as L, Reject as R};
    let name = spec.name;
    let readonly = spec.has_flag(flags::READONLY);
    let all = |merge| Route::Fanout {
        merge,
        scope: Scope::Masters,
        readonly,
    };
    let admin = |merge| {
        if policy.fanout_admin {
            Route::Fanout {
                merge,
                scope: Scope::AllNodes,
                readonly,
            }
        } else {
            R(Reject::Refused(
                "node administration; set cluster.fanout_admin to send it to every node",
            ))
        }
    };
    let route = match name {
        "dbsize" => all(Merge::SumInts),
        "keys" => all(Merge::Concat),
        "flushall" | "flushdb" => all(Merge::AllOk),
        "randomkey" => all(Merge::AnyNonNil),
        "scan" => Route::Scan,
        "info" => all(Merge::Info),
        "script|load" | "function|load" => all(Merge::First),
        "script|exists" => all(Merge::AndInts),
        "script|flush" | "function|flush" | "function|delete" | "function|restore" => {
            all(Merge::AllOk)
        }
        "pubsub|channels" | "pubsub|shardchannels" => all(Merge::Union),
        "pubsub|numsub" | "pubsub|shardnumsub" => all(Merge::SumPairs),
        "pubsub|numpat" => all(Merge::SumInts),
        "config|set" | "config|resetstat" | "save" | "bgsave" | "bgrewriteaof" => {
            admin(Merge::AllOk)
        }
        "script|kill" | "function|kill" => all(Merge::AnyOk),
        // Node-level resets: every master, or they would reset one of them.
        "slowlog|reset" | "latency|reset" | "memory|purge" => all(Merge::AllOk),
        // The proxy follows redirects itself; a client's ASKING must not set
        // the flag on a shared connection.
        "asking" => L(Local::Asking),
        "script|debug" => R(Reject::Refused(
            "script debugging changes the connection's mode",
        )),
        "module|load" | "module|loadex" | "module|unload" => {
            R(Reject::Refused("modules must be loaded on each node"))
        }
        "move" => R(Reject::Redis("ERR MOVE is not allowed in cluster mode")),
        "swapdb" => R(Reject::Redis("ERR SWAPDB is not allowed in cluster mode")),
        "wait" => Route::Wait,
        "cluster|help" => Route::Forward(Forward {
            slot: None,
            readonly: true,
        }),
        "cluster|info" => L(Local::ClusterView(ClusterView::Info)),
        "cluster|slots" => L(Local::ClusterView(ClusterView::Slots)),
        "cluster|shards" => L(Local::ClusterView(ClusterView::Shards)),
        "cluster|nodes" => L(Local::ClusterView(ClusterView::Nodes)),
        "cluster|myid" => L(Local::ClusterView(ClusterView::MyId)),
        "cluster|countkeysinslot" | "cluster|getkeysinslot" => slot_arg(req),
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
        "multi" => Route::Txn(Txn::Multi),
        "exec" => Route::Txn(Txn::Exec),
        "discard" => Route::Txn(Txn::Discard),
        "unwatch" => Route::Txn(Txn::Unwatch),
        "watch" => match slot_of(spec, &ReqArgs(req)) {
            Ok(Some(slot)) => Route::Txn(Txn::Watch(slot)),
            Ok(None) => return None,
            Err(reject) => R(reject),
        },
        "subscribe" | "psubscribe" => Route::PubSub(PubSub::Subscribe),
        "unsubscribe" | "punsubscribe" => Route::PubSub(PubSub::Unsubscribe),
        "ssubscribe" => match channel_slot(spec, req) {
            Ok(Some(slot)) => Route::PubSub(PubSub::SSubscribe(slot)),
            Ok(None) => return None,
            Err(reject) => R(reject),
        },
        "sunsubscribe" => match channel_slot(spec, req) {
            Ok(slot) => Route::PubSub(PubSub::SUnsubscribe(slot)),
            Err(reject) => R(reject),
        },
        "spublish" => match channel_slot(spec, req) {
            Ok(slot) => Route::Forward(Forward {
                slot,
                readonly: false,
            }),
            Err(reject) => R(reject),
        },
        "readonly" => L(Local::ReadOnly),
        "readwrite" => L(Local::ReadWrite),
        "monitor" | "sync" | "psync" | "replconf" => R(Reject::Refused("replication streams")),
        "shutdown" | "debug" | "failover" | "replicaof" | "slaveof" | "config|rewrite"
        | "migrate" => R(Reject::Refused("node administration")),
        "acl|setuser" | "acl|deluser" | "acl|load" | "acl|save" => {
            R(Reject::Refused("ACL changes must be made on each node"))
        }
        "client|list" => L(Local::ClientList),
        "client|info" => L(Local::ClientInfo),
        "client|kill" => L(Local::ClientKill),
        "client|reply" => L(Local::ClientReply),
        "client|no-evict" => L(Local::ClientNoEvict),
        "client|getredir" => L(Local::ClientGetRedir),
        "client|help" => Route::Forward(Forward {
            slot: None,
            readonly: true,
        }),
        "client|tracking" | "client|caching" | "client|trackinginfo" => {
            R(Reject::Unsupported("client-side caching (CLIENT TRACKING)"))
        }
        n if n.starts_with("client|") => R(Reject::Unsupported(
            "this CLIENT subcommand (it would act on the proxy's shared connections to the nodes)",
        )),
        n if n.starts_with("cluster|") => R(Reject::Refused("this CLUSTER subcommand")),
        _ => return None,
    };
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

/// The slot all shard channels hash to (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH),
/// `None` without channels, or CROSSSLOT as Redis Cluster answers.
fn channel_slot(spec: &CommandSpec, req: &Request) -> Result<Option<u16>, Reject> {
    let mut slot: Option<u16> = None;
    let mut cross = false;
    slotway_command::for_each_shard_channel(spec, &ReqArgs(req), |i| {
        let s = key_slot(req.arg(i).unwrap_or_default());
        if slot.is_some_and(|prev| prev != s) {
            cross = true;
        }
        slot.get_or_insert(s);
    });
    if cross {
        Err(Reject::CrossSlot)
    } else {
        Ok(slot)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn r(args: &[&str]) -> Route {
        route(
            &Request::from_args(args.iter().map(|a| a.as_bytes())),
            Policy::default(),
        )
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
        assert_eq!(r(&["EVAL", "return 1", "0"]), w(None));
        assert_eq!(r(&["EVAL", "return 1", "5", "k"]), w(None));
        assert_eq!(r(&["XREAD", "STREAMS", "s", "0"]), Slot(key_slot(b"s")));
        assert_eq!(r(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]), Slot(12182));
        assert_eq!(
            r(&["TIME"]),
            Route::Forward(Forward {
                slot: None,
                readonly: false
            })
        );
    }

    #[test]
    fn cross_slot_splits_only_what_keeps_its_meaning() {
        let split = |merge, readonly| Route::Split { merge, readonly };
        assert_eq!(r(&["MGET", "a", "b"]), split(Merge::Mget, true));
        assert_eq!(r(&["MSET", "a", "1", "b", "2"]), split(Merge::AllOk, false));
        assert_eq!(r(&["DEL", "a", "b"]), split(Merge::SumInts, false));
        assert_eq!(r(&["EXISTS", "a", "b"]), split(Merge::SumInts, true));
        assert_eq!(
            r(&["MSETNX", "a", "1", "b", "2"]),
            Route::Reject(Reject::CrossSlot)
        );
        assert_eq!(r(&["RENAME", "a", "b"]), Route::Reject(Reject::CrossSlot));
        let off = Policy {
            split_multi_key: false,
            ..Policy::default()
        };
        let req = Request::from_args([&b"MGET"[..], b"a", b"b"]);
        assert_eq!(route(&req, off), Route::Reject(Reject::CrossSlot));
    }

    #[test]
    fn fanouts_and_admin_policy() {
        let fan = |merge, readonly| Route::Fanout {
            merge,
            scope: Scope::Masters,
            readonly,
        };
        assert_eq!(r(&["DBSIZE"]), fan(Merge::SumInts, true));
        assert_eq!(r(&["KEYS", "*"]), fan(Merge::Concat, true));
        assert_eq!(r(&["FLUSHALL"]), fan(Merge::AllOk, false));
        assert_eq!(r(&["SCRIPT", "LOAD", "return 1"]), fan(Merge::First, false));
        assert_eq!(r(&["SCAN", "0"]), Route::Scan);
        assert_eq!(
            r(&["CLUSTER", "SLOTS"]),
            Route::Local(Local::ClusterView(ClusterView::Slots))
        );
        assert!(matches!(
            r(&["CONFIG", "SET", "a", "b"]),
            Route::Reject(Reject::Refused(_))
        ));
        let admin = Policy {
            fanout_admin: true,
            ..Policy::default()
        };
        let req = Request::from_args([&b"CONFIG"[..], b"SET", b"a", b"b"]);
        assert_eq!(
            route(&req, admin),
            Route::Fanout {
                merge: Merge::AllOk,
                scope: Scope::AllNodes,
                readonly: false
            }
        );
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
        let blocking = |slot| {
            Route::Blocking(Forward {
                slot: Some(slot),
                readonly: false,
            })
        };
        assert_eq!(r(&["BLPOP", "l", "0"]), blocking(key_slot(b"l")));
        assert_eq!(
            r(&["BLPOP", "a", "b", "0"]),
            Route::Reject(Reject::CrossSlot)
        );
        assert!(matches!(
            r(&["XREAD", "BLOCK", "0", "STREAMS", "s", "0"]),
            Route::Blocking(Forward {
                slot: Some(_),
                readonly: true
            })
        ));
        assert_eq!(r(&["MULTI"]), Route::Txn(Txn::Multi));
        assert_eq!(
            r(&["WATCH", "{a}1", "{a}2"]),
            Route::Txn(Txn::Watch(key_slot(b"a")))
        );
        assert_eq!(r(&["WATCH", "a", "b"]), Route::Reject(Reject::CrossSlot));
        assert_eq!(
            r(&["SUBSCRIBE", "a", "b"]),
            Route::PubSub(PubSub::Subscribe)
        );
        assert_eq!(
            r(&["SSUBSCRIBE", "{c}1", "{c}2"]),
            Route::PubSub(PubSub::SSubscribe(key_slot(b"c")))
        );
        assert_eq!(
            r(&["SSUBSCRIBE", "a", "b"]),
            Route::Reject(Reject::CrossSlot)
        );
        assert_eq!(
            r(&["SUNSUBSCRIBE"]),
            Route::PubSub(PubSub::SUnsubscribe(None))
        );
        assert_eq!(
            r(&["SPUBLISH", "ch", "m"]),
            Route::Forward(Forward {
                slot: Some(key_slot(b"ch")),
                readonly: false
            })
        );
        assert!(matches!(
            r(&["SHUTDOWN"]),
            Route::Reject(Reject::Refused(_))
        ));
    }

    #[test]
    fn reject_messages_match_redis() {
        let msg = |args: &[&str]| {
            let req = Request::from_args(args.iter().map(|a| a.as_bytes()));
            let Route::Reject(rej) = route(&req, Policy::default()) else {
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
            msg(&["msetnx", "a", "1", "b", "2"]),
            "CROSSSLOT Keys in request don't hash to the same slot"
        );
    }
}
