#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `docs/commands.md`: what Slotway does with every Redis 7.0 command and
//! subcommand, generated from the command table and the real routing code.
//!
//! For each table entry this builds representative requests from its arity
//! and key specs (keys in one slot, then keys in different slots), routes them
//! with `slotway_core::route::route` under the default policy (and under the
//! non-default `fanout_admin` / `split_multi_key` choices where they change
//! the outcome), and writes one Markdown row per entry. The test fails when
//! the committed file differs from what the code says today; regenerate with
//!
//! ```text
//! SLOTWAY_UPDATE_DOCS=1 cargo test -p slotway-core --test commands_doc
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use slotway_command::table::{COMMANDS, REDIS_VERSION};
use slotway_command::{BeginSearch, CommandSpec, FindKeys, flags};
use slotway_core::route::{
    ClusterView, Forward, Local, Merge, Policy, PubSub, Reject, Route, Scope, Txn, route,
};
use slotway_hashkit::key_slot;
use slotway_resp::Request;

/// Every argument that is not the command name, a key, a key count or a
/// keyword: a number, so counts, timeouts, cursors and slots parse, and never
/// a keyword the key specs or Redis's getkeys fallbacks look for.
const FILLER: &str = "0";

/// How many arguments beyond the minimal arity a probe may add to reach two
/// keys (GEORADIUS needs `STORE dst` after its five fixed arguments,
/// XREADGROUP two streams and two IDs).
const MAX_EXTRA_ARGS: usize = 4;

/// Keywords that introduce keys in commands whose key specs Redis cannot
/// describe (`BeginSearch::Unknown`), so the specs do not name them: SORT's
/// `STORE destination` (Redis's own `sortGetKeys` finds it).
const UNKNOWN_SPEC_KEYWORDS: &[(&str, &str)] = &[("sort", "STORE")];

/// The policy operators get without a config file.
fn default_policy() -> Policy {
    Policy::default()
}

fn fanout_admin() -> Policy {
    Policy {
        fanout_admin: true,
        ..Policy::default()
    }
}

fn no_split() -> Policy {
    Policy {
        split_multi_key: false,
        ..Policy::default()
    }
}

// ---------------------------------------------------------------------------
// Probes: synthetic requests built from a spec's arity and key specs.
// ---------------------------------------------------------------------------

/// A synthetic request for one spec, with the positions of its key-like
/// arguments (keys, and the shard channels cluster mode hashes like keys).
#[derive(Clone, Debug)]
struct Probe {
    args: Vec<String>,
    /// Key positions, as `slotway_command::for_each_key` reports them.
    keys: Vec<usize>,
    /// Shard channel positions (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE).
    channels: Vec<usize>,
}

impl Probe {
    /// Keys and shard channels, sorted, without duplicates.
    fn keylike(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self.keys.iter().chain(&self.channels).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The request with key-like arguments named `{x}a`, `{x}b`, … (one slot)
    /// or `a`, `b`, … (`a` and `b` hash to different slots).
    fn request(&self, same_slot: bool) -> Request {
        let mut args = self.args.clone();
        for (n, &pos) in self.keylike().iter().enumerate() {
            let letter = char::from(b'a' + u8::try_from(n).unwrap());
            args[pos] = if same_slot {
                format!("{{x}}{letter}")
            } else {
                letter.to_string()
            };
        }
        let req = Request::from_args(args.iter().map(String::as_bytes));
        // Names never change which arguments are keys.
        let (keys, channels) = key_positions(spec_of(&req), &args_of(&req)).unwrap();
        assert_eq!((&keys, &channels), (&self.keys, &self.channels), "{args:?}");
        if !same_slot && self.keylike().len() >= 2 {
            assert_ne!(key_slot(b"a"), key_slot(b"b"));
        }
        req
    }
}

fn args_of(req: &Request) -> Vec<String> {
    req.args()
        .map(|a| String::from_utf8(a.to_vec()).unwrap())
        .collect()
}

fn spec_of(req: &Request) -> &'static CommandSpec {
    match slotway_command::resolve(&slotway_core::route::ReqArgs(req)) {
        slotway_command::Resolved::Command(spec) => spec,
        other => panic!("probe {:?} does not resolve: {other:?}", args_of(req)),
    }
}

/// Key and shard-channel positions of `args` for `spec`; `None` when the
/// request's key count is malformed.
fn key_positions(spec: &CommandSpec, args: &[String]) -> Option<(Vec<usize>, Vec<usize>)> {
    let mut keys = Vec::new();
    slotway_command::for_each_key(spec, args, |i| keys.push(i)).ok()?;
    let mut channels = Vec::new();
    slotway_command::for_each_shard_channel(spec, args, |i| channels.push(i));
    Some((keys, channels))
}

/// `["CONFIG", "GET"]` for `config|get`.
fn tokens(spec: &CommandSpec) -> Vec<String> {
    spec.name.split('|').map(str::to_ascii_uppercase).collect()
}

/// The fewest arguments the spec accepts (name and subcommand included).
fn min_argc(spec: &CommandSpec) -> usize {
    usize::try_from(spec.arity.unsigned_abs())
        .unwrap()
        .max(tokens(spec).len())
}

/// Keywords that introduce keys, with where Redis starts searching for them.
fn keywords(spec: &CommandSpec) -> Vec<(&'static str, i32)> {
    let mut out: Vec<(&'static str, i32)> = spec
        .key_specs
        .iter()
        .filter_map(|ks| match ks.begin {
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => Some((keyword, start_from)),
            _ => None,
        })
        .collect();
    if spec
        .key_specs
        .iter()
        .any(|ks| ks.begin == BeginSearch::Unknown)
    {
        let hints = UNKNOWN_SPEC_KEYWORDS
            .iter()
            .filter(|(n, _)| *n == spec.name);
        // Searched from the first argument after the key, like sortGetKeys.
        out.extend(hints.map(|&(_, kw)| (kw, 2)));
    }
    out
}

/// Positions of `numkeys` arguments (key specs with a key count).
fn keynum_positions(spec: &CommandSpec) -> Vec<usize> {
    spec.key_specs
        .iter()
        .filter_map(|ks| match (ks.begin, ks.find) {
            (BeginSearch::Index(b), FindKeys::Keynum { keynum_idx, .. }) => {
                usize::try_from(b + keynum_idx).ok()
            }
            _ => None,
        })
        .collect()
}

/// Key-value ranges (MSET's `step: 2`) must end on a value: Redis rejects
/// `MSET k1 v1 k2` itself, so such a request tells nothing about routing.
fn pairs_complete(spec: &CommandSpec, argc: usize) -> bool {
    spec.key_specs.iter().all(|ks| match (ks.begin, ks.find) {
        (
            BeginSearch::Index(b),
            FindKeys::Range {
                last_key,
                step,
                limit: 0,
            },
        ) if last_key < 0 && step > 1 => {
            let last = i64::try_from(argc).unwrap() + i64::from(last_key);
            (last - i64::from(b)).rem_euclid(i64::from(step)) == i64::from(step) - 1
        }
        _ => true,
    })
}

/// Every well-formed probe for `spec`, fewest arguments first; at each size
/// first without keywords, then with each keyword at each place it may take,
/// key counts 1, 2, then 0.
fn probes(spec: &'static CommandSpec) -> Vec<Probe> {
    let tokens = tokens(spec);
    let fixed = tokens.len();
    let min = min_argc(spec);
    // A container is itself a command only without a subcommand (COMMAND).
    let max = if spec.arity >= 0 || spec.is_container() {
        min
    } else {
        min + MAX_EXTRA_ARGS
    };
    let keywords = keywords(spec);
    let keynums = keynum_positions(spec);
    let counts: &[Option<&str>] = if keynums.is_empty() {
        &[None]
    } else {
        // 0 last: only keyless probes (EVAL with no keys) need it.
        &[Some("1"), Some("2"), Some("0")]
    };
    let mut out = Vec::new();
    for argc in min..=max {
        let mut placements: Vec<Option<(&str, usize)>> = vec![None];
        for &(word, start_from) in &keywords {
            // As getKeysUsingKeySpecs searches: forward up to (excluding) the
            // last argument, backward down to (excluding) argument 1.
            let (lo, hi) = if start_from > 0 {
                (usize::try_from(start_from).unwrap(), argc.saturating_sub(2))
            } else {
                let from = i64::try_from(argc).unwrap() + i64::from(start_from);
                (2, usize::try_from(from).unwrap_or(0))
            };
            placements.extend((lo.max(fixed)..=hi).map(|p| Some((word, p))));
        }
        for placement in &placements {
            for count in counts {
                let mut args: Vec<String> = tokens.clone();
                args.resize(argc, FILLER.to_owned());
                let mut reserved = Vec::new();
                if let Some(count) = count {
                    for &p in keynums.iter().filter(|&&p| p >= fixed && p < argc) {
                        args[p] = (*count).to_owned();
                        reserved.push(p);
                    }
                }
                if let Some((word, p)) = *placement {
                    if reserved.contains(&p) {
                        continue;
                    }
                    args[p] = word.to_owned();
                    reserved.push(p);
                }
                let Some((keys, channels)) = key_positions(spec, &args) else {
                    continue;
                };
                let clash = keys
                    .iter()
                    .chain(&channels)
                    .any(|i| *i < fixed || reserved.contains(i));
                if clash || !pairs_complete(spec, argc) {
                    continue;
                }
                out.push(Probe {
                    args,
                    keys,
                    channels,
                });
            }
        }
    }
    out
}

/// The probes one entry is documented with.
#[derive(Debug)]
struct Probes {
    /// The smallest request with a key (or shard channel) if the command can
    /// have one, else the smallest request.
    single: Probe,
    /// The smallest request with at least two keys, if the command can have two.
    cross: Option<Probe>,
    /// The smallest request without keys, for commands whose keys are
    /// optional (EVAL/FCALL with 0 keys, SUNSUBSCRIBE without channels).
    keyless: Option<Probe>,
}

fn choose(spec: &'static CommandSpec) -> Probes {
    let all = probes(spec);
    assert!(!all.is_empty(), "no well-formed probe for {}", spec.name);
    let single = all
        .iter()
        .find(|p| !p.keylike().is_empty())
        .unwrap_or(&all[0])
        .clone();
    let cross = all.iter().find(|p| p.keylike().len() >= 2).cloned();
    let optional_keys = spec.has_flag(flags::NO_MANDATORY_KEYS)
        || (min_argc(spec) == tokens(spec).len() && !spec.key_specs.is_empty());
    let keyless = if optional_keys && !single.keylike().is_empty() {
        all.iter().find(|p| p.keylike().is_empty()).cloned()
    } else {
        None
    };
    Probes {
        single,
        cross,
        keyless,
    }
}

/// XREAD / XREADGROUP block only with `BLOCK`: the probe with `BLOCK 0`
/// inserted where the command accepts it (the first place that still parses
/// and routes as blocking).
fn with_block(spec: &'static CommandSpec, probe: &Probe) -> Option<Request> {
    let fixed = tokens(spec).len();
    (fixed..=probe.args.len()).find_map(|at| {
        let mut args = probe.args.clone();
        args.splice(at..at, ["BLOCK".to_owned(), "0".to_owned()]);
        let (keys, channels) = key_positions(spec, &args)?;
        let moved = Probe {
            args,
            keys,
            channels,
        };
        if moved.keylike().len() != probe.keylike().len() {
            return None;
        }
        let req = moved.request(true);
        matches!(route(&req, default_policy()), Route::Blocking(_)).then_some(req)
    })
}

// ---------------------------------------------------------------------------
// Describing routes.
// ---------------------------------------------------------------------------

/// Behaviour classes of the summary table, in display order.
const CLASSES: &[&str] = &[
    "routed to the master of one slot (its keys', its shard channel's, or the slot it names)",
    "keyless: any master",
    "every master (fan-out, replies merged)",
    "SCAN cursor walks every master",
    "answered by the proxy",
    "dedicated connection (blocking)",
    "transaction (MULTI/EXEC/DISCARD/WATCH/UNWATCH)",
    "subscriber connection",
    "refused",
    "not supported through the proxy",
    "not supported yet (needs a dedicated connection)",
    "container (see its subcommands)",
    "replication acknowledgement watched by the proxy (WAIT)",
];

/// The summary class of container rows.
const CONTAINER: usize = 11;

const ACROSS: &[&str] = &["split by slot", "CROSSSLOT", "n/a"];

fn class(route: &Route) -> &'static str {
    let i = match route {
        Route::Forward(Forward { slot: Some(_), .. }) => 0,
        Route::Forward(Forward { slot: None, .. }) => 1,
        Route::Fanout { .. } => 2,
        Route::Scan => 3,
        Route::Local(_) => 4,
        Route::Blocking(_) => 5,
        Route::Txn(_) => 6,
        Route::PubSub(_) => 7,
        Route::Wait => 12,
        Route::Reject(Reject::Refused(_) | Reject::Redis(_)) => 8,
        Route::Reject(Reject::Unsupported(_)) => 9,
        Route::Reject(Reject::NeedsDedicated(_)) => 10,
        Route::Split { .. } | Route::Reject(_) => {
            panic!("{route:?} is not a single-slot behaviour")
        }
    };
    CLASSES[i]
}

fn merge_text(merge: Merge) -> &'static str {
    match merge {
        Merge::Mget => "values back in key order",
        Merge::SumInts => "integers summed",
        Merge::AllOk => "OK when every part says OK",
        Merge::First => "every part must succeed, one reply returned",
        Merge::Concat => "arrays concatenated",
        Merge::Union => "arrays merged without duplicates",
        Merge::AndInts => "0/1 arrays combined with AND",
        Merge::AnyNonNil => "first non-nil reply",
        Merge::SumPairs => "name/count pairs summed per name",
        Merge::Info => "the proxy's own INFO with totals summed over masters",
        Merge::AnyOk => "OK if any master says OK (the one running the script)",
    }
}

/// `"its key's slot"`, `"its keys' slot"`, `"its shard channel's slot"`, …
fn whose_slot(probe: &Probe, req: &Request, slot: u16) -> String {
    match (probe.keys.len(), probe.channels.len()) {
        (0, 0) => {
            let named = req.args().any(|a| a == slot.to_string().as_bytes());
            assert!(named, "slot {slot} from no key of {:?}", args_of(req));
            "the slot it names".to_owned()
        }
        (0, 1) => "its shard channel's slot".to_owned(),
        (0, _) => "its shard channels' slot".to_owned(),
        (1, _) => "its key's slot".to_owned(),
        _ => "its keys' slot".to_owned(),
    }
}

/// A code span for a Redis error reply.
fn error_text(reject: &Reject, req: &Request) -> String {
    format!("`{}`", String::from_utf8(reject.message(req)).unwrap())
}

/// What the proxy does with `req`, in words.
fn describe(route: &Route, probe: &Probe, req: &Request) -> String {
    let ro = |readonly: bool| if readonly { " (read-only)" } else { "" };
    match *route {
        Route::Wait => "once every earlier request is answered, the proxy watches the replicas of each master this client wrote to (its own connections, nothing shared is blocked) and answers the minimum acknowledged count".to_owned(),
        Route::Forward(Forward {
            slot: Some(slot),
            readonly,
        }) => format!(
            "routed to the master of {}{}",
            whose_slot(probe, req, slot),
            ro(readonly)
        ),
        Route::Forward(Forward {
            slot: None,
            readonly,
        }) => {
            assert!(probe.keylike().is_empty(), "keyed yet keyless: {probe:?}");
            format!("keyless: any master{}", ro(readonly))
        }
        Route::Split { merge, readonly } => {
            format!("split by slot: {}{}", merge_text(merge), ro(readonly))
        }
        Route::Fanout {
            merge,
            scope,
            readonly,
        } => {
            let whom = match scope {
                Scope::Masters => "every master",
                Scope::AllNodes => "every node, replicas included",
            };
            format!("{whom}: {}{}", merge_text(merge), ro(readonly))
        }
        Route::Scan => "SCAN cursor walks every master in turn".to_owned(),
        Route::Blocking(Forward { slot, readonly }) => match slot {
            Some(slot) => format!(
                "dedicated connection (blocking) to the master of {}{}",
                whose_slot(probe, req, slot),
                ro(readonly)
            ),
            None => format!("dedicated connection (blocking) to any master{}", ro(readonly)),
        },
        Route::Local(local) => local_text(local).to_owned(),
        Route::Txn(txn) => match txn {
            Txn::Multi => "transaction: answered by the proxy; the commands that follow are queued by the proxy and run on the first key's node at EXEC",
            Txn::Exec => "transaction: MULTI, the queued commands and EXEC sent in one write to the transaction's node",
            Txn::Discard => "transaction: answered by the proxy (drops the queued commands, ends a WATCH)",
            Txn::Watch(_) => "transaction: leases a dedicated connection to the master of its keys' slot; the transaction then runs there",
            Txn::Unwatch => "transaction: answered by the proxy (ends a WATCH)",
        }
        .to_owned(),
        Route::PubSub(pubsub) => match pubsub {
            PubSub::Subscribe => "subscriber connection (the client's own, to one master)",
            PubSub::Unsubscribe => "subscriber connection (the client's own)",
            PubSub::SSubscribe(_) | PubSub::SUnsubscribe(Some(_)) => {
                "shard subscriber connection to the master of its channels' slot"
            }
            PubSub::SUnsubscribe(None) => "every shard subscriber connection of the client",
        }
        .to_owned(),
        Route::Reject(ref reject) => match reject {
            Reject::Refused(_) => format!("refused: {}", error_text(reject, req)),
            Reject::Unsupported(_) => format!("not supported: {}", error_text(reject, req)),
            Reject::NeedsDedicated(_) => {
                format!("not supported yet: {}", error_text(reject, req))
            }
            Reject::CrossSlot => error_text(reject, req),
            Reject::Redis(_) => format!("refused as Redis Cluster does: {}", error_text(reject, req)),
            // The doc is made with nothing in `[commands]`.
            Reject::UnknownCommand
            | Reject::UnknownSubcommand
            | Reject::Arity(_)
            | Reject::ArityOf(_)
            | Reject::Denied(_) => panic!(
                "malformed probe {:?}: {}",
                args_of(req),
                error_text(reject, req)
            ),
        },
    }
}

fn local_text(local: Local) -> &'static str {
    match local {
        Local::Ping
        | Local::Echo
        | Local::Quit
        | Local::Auth
        | Local::ClientSetName
        | Local::ClientGetName
        | Local::ClientId
        | Local::ClientSetInfo
        | Local::ClusterKeyslot => "answered by the proxy",
        Local::AclWhoami => "answered by the proxy (the proxy's user of this client)",
        Local::Hello => "answered by the proxy (which presents itself as a standalone Redis)",
        Local::Select => "answered by the proxy (database 0 only)",
        Local::Reset => "answered by the proxy (also ends its transaction and subscriptions)",
        Local::ReadOnly => "answered by the proxy (the client's reads may then go to replicas)",
        Local::ReadWrite => "answered by the proxy (the client's reads go to masters again)",
        Local::ClientList => "answered by the proxy (its own clients)",
        Local::ClientInfo => "answered by the proxy (the client as the proxy sees it)",
        Local::ClientKill => "answered by the proxy (kills the proxy's own clients)",
        Local::ClientReply => "answered by the proxy (it changes which replies the proxy writes)",
        Local::ClientNoEvict => "answered by the proxy (always OK: the proxy evicts no client)",
        Local::ClientGetRedir => "answered by the proxy (-1: no tracking)",
        Local::Asking => "answered by the proxy (OK: the proxy follows ASK redirects itself)",
        Local::Proxy => "answered by the proxy (its PROXY command)",
        Local::SlowLog => {
            "answered by the proxy (its own slow log: end-to-end time through the proxy)"
        }
        Local::ClientPause => {
            "answered by the proxy (pauses the proxy's own clients: all, or only writes)"
        }
        Local::ClientUnpause => "answered by the proxy (ends a pause of its clients)",
        Local::ClusterView(view) => match view {
            ClusterView::Info
            | ClusterView::Slots
            | ClusterView::Shards
            | ClusterView::Nodes
            | ClusterView::MyId => {
                "answered by the proxy: a one-node cluster (the proxy) owning every slot"
            }
        },
    }
}

// ---------------------------------------------------------------------------
// Rows and the document.
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Row {
    group: &'static str,
    /// (container, subcommand): a container sorts before its subcommands.
    order: (&'static str, &'static str),
    name: String,
    arity: i32,
    class: &'static str,
    through: String,
    across_class: &'static str,
    across: String,
}

fn row(spec: &'static CommandSpec) -> Row {
    let name = tokens(spec).join(" ");
    let order = (spec.container_name(), spec.subcommand_name().unwrap_or(""));
    let base = |class, through: String| Row {
        group: spec.group,
        order,
        name: name.clone(),
        arity: spec.arity,
        class,
        through,
        across_class: "n/a",
        across: "n/a".to_owned(),
    };
    if spec.is_container() && !spec.arity_ok(1) {
        let n = spec.subcommands.len();
        return base(
            CLASSES[CONTAINER],
            format!("container of {n} subcommands (below); `{name}` alone is a wrong-arity error"),
        );
    }
    let probes = choose(spec);
    let req = probes.single.request(true);
    let single = route(&req, default_policy());
    let mut through = describe(&single, &probes.single, &req);
    if spec.is_container() {
        write!(
            through,
            "; its {} subcommands are below",
            spec.subcommands.len()
        )
        .unwrap();
    }
    if let Some(keyless) = &probes.keyless {
        let req = keyless.request(true);
        let r = route(&req, default_policy());
        if r != single {
            let what = if spec.has_keys() { "keys" } else { "channels" };
            let text = describe(&r, keyless, &req);
            let text = text.strip_prefix("keyless: ").unwrap_or(&text);
            write!(through, "; without {what}: {text}").unwrap();
        }
    }
    if spec.has_flag(flags::BLOCKING) && !matches!(single, Route::Blocking(_)) {
        let req = with_block(spec, &probes.single)
            .unwrap_or_else(|| panic!("{name}: no blocking form found"));
        let r = route(&req, default_policy());
        write!(
            through,
            "; with `BLOCK`: {}",
            describe(&r, &probes.single, &req)
        )
        .unwrap();
    }
    let admin = route(&req, fanout_admin());
    if admin != single {
        write!(
            through,
            "; with `cluster.fanout_admin = true`: {}",
            describe(&admin, &probes.single, &req)
        )
        .unwrap();
    }
    let mut r = base(class(&single), through);
    if let Some(cross) = &probes.cross {
        let req = cross.request(false);
        let across = route(&req, default_policy());
        let (across_class, mut text) = match across {
            Route::Split { .. } => (ACROSS[0], describe(&across, cross, &req)),
            Route::Reject(Reject::CrossSlot) => (ACROSS[1], "`CROSSSLOT`".to_owned()),
            // Decided by name whatever the keys (refused, …).
            _ => {
                assert_eq!(class(&across), class(&single), "{name}: {across:?}");
                (ACROSS[2], "n/a".to_owned())
            }
        };
        let off = route(&req, no_split());
        if off != across {
            write!(
                text,
                "; with `cluster.cross_slot_split = false`: {}",
                match off {
                    Route::Reject(Reject::CrossSlot) => "`CROSSSLOT`".to_owned(),
                    _ => describe(&off, cross, &req),
                }
            )
            .unwrap();
        }
        r.across_class = across_class;
        r.across = text;
    }
    r
}

/// Commands Slotway handles that the 7.0 table does not have.
fn extra_rows() -> Vec<(String, String)> {
    // CLIENT SETINFO (Redis 7.2) is sent by every modern client on connect.
    let req = Request::from_args(["CLIENT", "SETINFO", "LIB-NAME", "x"].map(str::as_bytes));
    let r = route(&req, default_policy());
    assert!(matches!(r, Route::Local(_)), "{r:?}");
    let probe = Probe {
        args: args_of(&req),
        keys: Vec::new(),
        channels: Vec::new(),
    };
    vec![("CLIENT SETINFO".to_owned(), describe(&r, &probe, &req))]
}

/// Group headings in this order; any other group after them, by name.
const GROUP_ORDER: &[&str] = &[
    "string",
    "list",
    "hash",
    "set",
    "sorted-set",
    "stream",
    "bitmap",
    "hyperloglog",
    "geo",
    "pubsub",
    "scripting",
    "transactions",
    "connection",
    "server",
    "cluster",
    "generic",
];

fn all_rows() -> Vec<Row> {
    COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands))
        .map(row)
        .collect()
}

/// Markdown table cell: pipes escaped, even inside code spans (GFM).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn generate() -> String {
    let rows = all_rows();
    let mut groups: BTreeMap<(usize, &str), Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        let rank = GROUP_ORDER
            .iter()
            .position(|g| *g == r.group)
            .unwrap_or(GROUP_ORDER.len());
        groups.entry((rank, r.group)).or_default().push(r);
    }
    let commands = COMMANDS.len();
    let subcommands: usize = COMMANDS.iter().map(|c| c.subcommands.len()).sum();

    let mut md = String::new();
    let w = &mut md;
    writeln!(w, "# Commands through Slotway").unwrap();
    writeln!(w).unwrap();
    writeln!(
        w,
        "<!-- GENERATED FILE, DO NOT EDIT: crates/core/tests/commands_doc.rs writes it. -->"
    )
    .unwrap();
    writeln!(w).unwrap();
    writeln!(
        w,
        "What Slotway does with each of the {commands} commands and {subcommands} subcommands of \
         Redis {REDIS_VERSION}. This file is generated from the command table \
         (`slotway_command::table::COMMANDS`) and the proxy's real routing \
         (`slotway_core::route::route`): for every entry, the test `crates/core/tests/commands_doc.rs` \
         builds the smallest well-formed request, with its keys (if it can have any) in one slot \
         (`{{x}}a`, `{{x}}b`, …), and, for commands that can take two or more keys, a request whose keys are \
         in different slots (`a`, `b`, …), routes them, and describes the outcome. The test fails \
         when this file no longer matches the code; regenerate it with:"
    )
    .unwrap();
    writeln!(w).unwrap();
    writeln!(w, "```sh").unwrap();
    writeln!(
        w,
        "SLOTWAY_UPDATE_DOCS=1 cargo test -p slotway-core --test commands_doc"
    )
    .unwrap();
    writeln!(w, "```").unwrap();
    writeln!(w).unwrap();
    writeln!(w, "How to read the tables:").unwrap();
    writeln!(w).unwrap();
    for line in [
        "**arity** is Redis's: `n` means exactly `n` arguments, `-n` at least `n`, the command \
         name (and subcommand name) included. Unknown commands, unknown subcommands and wrong \
         arities are answered by the proxy with Redis's own errors.",
        "**through Slotway** is what the proxy does with the command under the default \
         configuration; other configurations are named where they change it. *Routed to the \
         master of its key's slot*: the proxy follows MOVED/ASK itself and the client never sees \
         them. *Keyless: any master*: one master, picked per client (the same one while the \
         topology does not change). *(read-only)*: \
         the command changes nothing, so the proxy may retry it after a lost connection, and, \
         when it goes to a slot's master, a replica of that slot may serve it instead if reads \
         from replicas are enabled (`cluster.read_from`, or the client's `READONLY`).",
        "**keys across slots** is what happens when the keys of one request hash to different \
         slots: *split by slot* (one sub-request per slot, replies merged as stated), `CROSSSLOT` \
         (refused, as Redis Cluster does), or *n/a* (the command takes at most one key, or is \
         decided by its name whatever its keys).",
        "Inside `MULTI` (queued by the proxy, run on one node at `EXEC`), a command is queued only \
         if it goes to one node: routed to one slot (on the node of the transaction's first \
         key), keyless, or `PING`/`ECHO`. Keys across slots get `CROSSSLOT` even where they \
         would be split; fan-outs, SCAN, subscriptions, other proxy answers and refusals are \
         refused at queue time. Either way `EXEC` then fails, as Redis does for a bad queued \
         command.",
    ] {
        writeln!(w, "- {line}").unwrap();
    }
    writeln!(w).unwrap();

    writeln!(w, "## Summary").unwrap();
    writeln!(w).unwrap();
    writeln!(w, "| through Slotway | commands and subcommands |").unwrap();
    writeln!(w, "| --- | ---: |").unwrap();
    for class in CLASSES {
        let n = rows.iter().filter(|r| r.class == *class).count();
        writeln!(w, "| {} | {n} |", cell(class)).unwrap();
    }
    writeln!(w, "| **total** | {} |", rows.len()).unwrap();
    writeln!(w).unwrap();
    writeln!(w, "| keys across slots | commands and subcommands |").unwrap();
    writeln!(w, "| --- | ---: |").unwrap();
    for class in ACROSS {
        let n = rows.iter().filter(|r| r.across_class == *class).count();
        writeln!(w, "| {class} | {n} |").unwrap();
    }
    writeln!(w).unwrap();

    for ((_, group), mut rows) in groups {
        rows.sort_by_key(|r| r.order);
        writeln!(w, "## {group}").unwrap();
        writeln!(w).unwrap();
        writeln!(
            w,
            "| command | arity | through Slotway | keys across slots |"
        )
        .unwrap();
        writeln!(w, "| --- | ---: | --- | --- |").unwrap();
        for r in rows {
            writeln!(
                w,
                "| `{}` | {} | {} | {} |",
                r.name,
                r.arity,
                cell(&r.through),
                cell(&r.across)
            )
            .unwrap();
        }
        writeln!(w).unwrap();
    }

    writeln!(w, "## Not in the Redis {REDIS_VERSION} table").unwrap();
    writeln!(w).unwrap();
    writeln!(w, "| command | through Slotway |").unwrap();
    writeln!(w, "| --- | --- |").unwrap();
    for (name, through) in extra_rows() {
        writeln!(w, "| `{name}` | {} |", cell(&through)).unwrap();
    }
    md
}

fn doc_path() -> PathBuf {
    // CARGO_MANIFEST_DIR is crates/core; the docs live at the workspace root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap();
    root.join("docs").join("commands.md")
}

#[test]
fn commands_doc_is_up_to_date() {
    let text = generate();
    let path = doc_path();
    if std::env::var("SLOTWAY_UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let regenerate = "regenerate it with `SLOTWAY_UPDATE_DOCS=1 cargo test -p slotway-core --test commands_doc` and commit the result";
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; {regenerate}", path.display()))
        .replace("\r\n", "\n");
    if committed == text {
        return;
    }
    let (line, (ours, theirs)) = text
        .lines()
        .map(Some)
        .chain(std::iter::repeat(None))
        .zip(committed.lines().map(Some).chain(std::iter::repeat(None)))
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .unwrap();
    panic!(
        "{} is stale: {regenerate}.\nfirst difference at line {}:\n  committed: {}\n  generated: {}",
        path.display(),
        line + 1,
        theirs.unwrap_or("<end of file>"),
        ours.unwrap_or("<end of file>"),
    );
}

// ---------------------------------------------------------------------------
// Known behaviours: the probes really exercise what the document claims.
// ---------------------------------------------------------------------------

fn spec(name: &str) -> &'static CommandSpec {
    let (cmd, sub) = match name.split_once('|') {
        Some((c, s)) => (c, Some(s)),
        None => (name, None),
    };
    let c = slotway_command::lookup(cmd.as_bytes()).unwrap();
    sub.map_or(c, |s| c.subcommand(s.as_bytes()).unwrap())
}

fn single(name: &str) -> (Route, Request) {
    let req = choose(spec(name)).single.request(true);
    (route(&req, default_policy()), req)
}

fn cross(name: &str) -> Route {
    let req = choose(spec(name)).cross.unwrap().request(false);
    route(&req, default_policy())
}

fn row_of(name: &str) -> Row {
    row(spec(name))
}

#[test]
fn known_behaviours() {
    let (get, req) = single("get");
    assert_eq!(args_of(&req), ["GET", "{x}a"]);
    assert_eq!(
        get,
        Route::Forward(Forward {
            slot: Some(key_slot(b"x")),
            readonly: true
        })
    );
    assert_eq!(row_of("get").across, "n/a");

    assert_eq!(
        cross("mget"),
        Route::Split {
            merge: Merge::Mget,
            readonly: true
        }
    );
    assert_eq!(row_of("mget").across_class, "split by slot");
    assert_eq!(
        cross("mset"),
        Route::Split {
            merge: Merge::AllOk,
            readonly: false
        }
    );
    assert_eq!(cross("msetnx"), Route::Reject(Reject::CrossSlot));
    assert_eq!(row_of("msetnx").across, "`CROSSSLOT`");

    assert_eq!(
        single("dbsize").0,
        Route::Fanout {
            merge: Merge::SumInts,
            scope: Scope::Masters,
            readonly: true
        }
    );
    let (blpop, req) = single("blpop");
    assert_eq!(args_of(&req), ["BLPOP", "{x}a", "0"]);
    assert!(matches!(
        blpop,
        Route::Blocking(Forward { slot: Some(_), .. })
    ));
    assert_eq!(cross("blpop"), Route::Reject(Reject::CrossSlot));
    assert!(
        row_of("xread")
            .through
            .contains("with `BLOCK`: dedicated connection")
    );

    assert!(matches!(
        single("shutdown").0,
        Route::Reject(Reject::Refused(_))
    ));
    assert!(
        row_of("shutdown")
            .through
            .starts_with("refused: `ERR slotway: 'shutdown'")
    );
    assert_eq!(single("ping").0, Route::Local(Local::Ping));
    assert_eq!(row_of("ping").class, "answered by the proxy");

    // Numeric arguments are chosen so the documented route is the real one.
    let (eval, req) = single("eval");
    assert_eq!(args_of(&req), ["EVAL", "0", "1", "{x}a"]);
    assert!(matches!(
        eval,
        Route::Forward(Forward { slot: Some(_), .. })
    ));
    assert!(
        row_of("eval")
            .through
            .ends_with("; without keys: any master")
    );
    assert_eq!(cross("zunionstore"), Route::Reject(Reject::CrossSlot));
    assert_eq!(cross("georadius"), Route::Reject(Reject::CrossSlot));
    assert_eq!(cross("sort"), Route::Reject(Reject::CrossSlot));
    assert_eq!(
        single("cluster|countkeysinslot").0,
        Route::Forward(Forward {
            slot: Some(0),
            readonly: true
        })
    );
    assert_eq!(cross("ssubscribe"), Route::Reject(Reject::CrossSlot));
    assert!(row_of("config|set").through.contains("fanout_admin = true"));
    assert!(row_of("del").across.contains("cross_slot_split = false"));
}

/// The keyword hints name commands whose specs really are unknown, so a
/// table change that describes them makes the hint go away.
#[test]
fn keyword_hints_are_still_needed() {
    for (name, _) in UNKNOWN_SPEC_KEYWORDS {
        assert!(
            spec(name)
                .key_specs
                .iter()
                .any(|ks| ks.begin == BeginSearch::Unknown),
            "{name}"
        );
    }
}
