//! Routing decisions: for one client request, what the proxy does with it.
//! Pure (no I/O, no locks): the session applies the decision.
//!
//! Order of checks, as Redis does them: unknown command, unknown subcommand,
//! arity, then what the proxy itself handles, then refusal of commands that
//! would break a shared backend connection (connection state, blocking,
//! pub/sub, transactions: they need dedicated connections), then the keys:
//! every key must hash to one slot, else `-CROSSSLOT`.

use slotway_command::{Args, CommandSpec, Resolved, flags};
use slotway_resp::Request;

mod gate;
mod keymap;
mod redirect;
mod reject;

pub use gate::{CommandGate, Gate, GateError, Verdict};
pub use keymap::KeyMap;
pub use redirect::{Redirect, redirect};
pub use reject::Reject;

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
    /// PING `[message]`
    Ping,
    /// ACL WHOAMI: the proxy's user of this client.
    AclWhoami,
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
    /// AUTH `[user]` pass
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
    /// PROXY …: the proxy's own information and settings.
    Proxy,
    /// CLIENT PAUSE timeout [WRITE|ALL]: holds the proxy's clients.
    ClientPause,
    /// CLIENT UNPAUSE
    ClientUnpause,
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
    /// SLOWLOG GET / LEN / RESET: the proxy's own slow log.
    SlowLog,
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

/// Decides what to do with `req` in front of a Redis Cluster.
#[must_use]
pub fn route(req: &Request, policy: Policy) -> Route {
    route_with(req, policy, &KeyMap::Cluster)
}

/// Decides what to do with `req`, its keys sharded by `keys` (a "slot" in
/// the returned route is the shard `keys` gives: a cluster slot or a pool
/// server's index).
#[must_use]
pub fn route_with(req: &Request, policy: Policy, keys: &KeyMap) -> Route {
    route_gated(req, policy, keys, None)
}

/// [`route_with`] behind the command gate: commands renamed away or
/// disabled are unknown (checked first, as Redis knows them no more),
/// denied ones refused right after the arity check (where Redis refuses its
/// own configuration-protected commands, before authentication and ACLs),
/// allowed ones routed as with `cluster.fanout_admin`.
#[must_use]
pub fn route_gated(req: &Request, policy: Policy, keys: &KeyMap, gate: Option<Gate<'_>>) -> Route {
    let args = ReqArgs(req);
    // CLIENT SETINFO arrived in Redis 7.2 and is not in the 7.0 table, yet
    // every modern client sends it on connect: the proxy answers it itself.
    // PROXY: the proxy's own command (redis-cluster-proxy compatible).
    if req.arg(0).is_some_and(|a| a.eq_ignore_ascii_case(b"proxy")) {
        return Route::Local(Local::Proxy);
    }
    // CLIENT NO-TOUCH (Redis 7.2, not in the 7.0 table): the proxy touches
    // no keys on its own, so ON and OFF are both simply OK.
    if req
        .arg(0)
        .is_some_and(|a| a.eq_ignore_ascii_case(b"client"))
        && req
            .arg(1)
            .is_some_and(|a| a.eq_ignore_ascii_case(b"no-touch"))
    {
        return if req.argc() == 3 {
            Route::Local(Local::ClientNoEvict)
        } else {
            Route::Reject(Reject::ArityOf("client|no-touch"))
        };
    }
    if is_client_setinfo(req) {
        return if req.argc() == 4 {
            Route::Local(Local::ClientSetInfo)
        } else {
            Route::Reject(Reject::ArityOf("client|setinfo"))
        };
    }
    let gate = gate.filter(|g| !g.gate.is_open());
    let flat = gate::resolve(&args, gate.is_some());
    if let Some(g) = gate
        && !g.renamed
        && flat
            .top
            .is_some_and(|t| g.gate.verdict(t) == Verdict::Unknown)
    {
        return Route::Reject(Reject::UnknownCommand);
    }
    let spec = match flat.resolved {
        Resolved::Command(spec) => spec,
        Resolved::UnknownCommand => return Route::Reject(Reject::UnknownCommand),
        Resolved::UnknownSubcommand(_) => return Route::Reject(Reject::UnknownSubcommand),
    };
    if !spec.arity_ok(req.argc()) {
        return Route::Reject(Reject::Arity(spec));
    }
    let mut policy = policy;
    if let (Some(g), Some(i)) = (gate, flat.index) {
        match g.gate.verdict(i) {
            Verdict::Denied => return Route::Reject(Reject::Denied(spec)),
            Verdict::Allowed => policy.fanout_admin = true,
            Verdict::Pass | Verdict::Unknown => {}
        }
    }
    if let Some(r) = special(spec, req, policy, keys) {
        return r;
    }
    let blocking = spec.has_flag(flags::BLOCKING) && blocks(spec.name, req);
    match slot_of(spec, &args, keys) {
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
fn special(spec: &CommandSpec, req: &Request, policy: Policy, keys: &KeyMap) -> Option<Route> {
    use Route::{Local as L, Reject as R};
    let name = spec.name;
    // A sharded pool is no cluster: cluster-aware clients must not take it
    // for one (and COUNTKEYSINSLOT's slot means nothing there).
    if keys.is_pool() && name.starts_with("cluster|") && name != "cluster|keyslot" {
        return Some(R(Reject::Refused(
            "CLUSTER commands: this is a sharded pool, not a Redis Cluster",
        )));
    }
    // A pool's classic pub/sub meets on its first server (see
    // `SlotTable::pubsub_master`).
    if keys.is_pool() && name == "publish" {
        return Some(Route::Forward(Forward {
            slot: Some(0),
            readonly: false,
        }));
    }
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
        "latency|reset" | "memory|purge" => all(Merge::AllOk),
        // The proxy's own slow log (end-to-end time through the proxy).
        "slowlog|get" | "slowlog|len" | "slowlog|reset" => L(Local::SlowLog),
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
        "watch" => match slot_of(spec, &ReqArgs(req), keys) {
            Ok(Some(slot)) => Route::Txn(Txn::Watch(slot)),
            Ok(None) => return None,
            Err(reject) => R(reject),
        },
        "subscribe" | "psubscribe" => Route::PubSub(PubSub::Subscribe),
        "unsubscribe" | "punsubscribe" => Route::PubSub(PubSub::Unsubscribe),
        "ssubscribe" => match channel_slot(spec, req, keys) {
            Ok(Some(slot)) => Route::PubSub(PubSub::SSubscribe(slot)),
            Ok(None) => return None,
            Err(reject) => R(reject),
        },
        "sunsubscribe" => match channel_slot(spec, req, keys) {
            Ok(slot) => Route::PubSub(PubSub::SUnsubscribe(slot)),
            Err(reject) => R(reject),
        },
        "spublish" => match channel_slot(spec, req, keys) {
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
        "acl|whoami" => L(Local::AclWhoami),
        // The proxy's users are in its configuration; the nodes' own ACLs
        // are not the client's business (and not the proxy's users).
        "acl|list" | "acl|getuser" | "acl|users" | "acl|log" | "acl|dryrun" => R(Reject::Refused(
            "the proxy's users are defined in its configuration",
        )),
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
        "client|pause" => L(Local::ClientPause),
        "client|unpause" => L(Local::ClientUnpause),
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
fn channel_slot(spec: &CommandSpec, req: &Request, keys: &KeyMap) -> Result<Option<u16>, Reject> {
    let mut slot: Option<u16> = None;
    let mut cross = false;
    slotway_command::for_each_shard_channel(spec, &ReqArgs(req), |i| {
        let s = keys.shard(req.arg(i).unwrap_or_default());
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
fn slot_of(spec: &CommandSpec, args: &ReqArgs<'_>, keys: &KeyMap) -> Result<Option<u16>, Reject> {
    let mut slot: Option<u16> = None;
    let mut cross = false;
    let found = slotway_command::for_each_key(spec, args, |i| {
        if let Some(key) = args.0.arg(i) {
            let s = keys.shard(key);
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
mod tests;
