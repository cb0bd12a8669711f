//! The `PROXY` command, compatible with redis-cluster-proxy's: the proxy's
//! own INFO, configuration, view of the cluster, and a few utilities.
//!
//! Subcommands that change the proxy (CONFIG SET, MULTIPLEXING OFF,
//! SHUTDOWN) need a user with `admin = true` (`[[users]]`); only the
//! redis-cluster-proxy drop-in lets every client of an unauthenticated
//! proxy use CONFIG SET and MULTIPLEXING OFF, as that proxy does (see
//! [`super::proxy_config`], which owns CONFIG and MULTIPLEXING). SHUTDOWN
//! (graceful) is for admin users only, always. There is no `PROXY DEBUG`
//! (redis-cluster-proxy's let any client crash it).

use std::time::Instant;

use bytes::BytesMut;
use slotway_resp::{Request, encode};

use super::Shared;
use super::local::{ClientState, Context};
use super::proxy_config::{self, may_shut_down};

/// When the process started serving (for uptime).
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Records the start time (first call wins).
pub fn mark_started() {
    let _ = STARTED.set(Instant::now());
}

const HELP: &[&str] = &[
    "PROXY <subcommand> [<arg> ...]. Subcommands are:",
    "INFO [<section>]",
    "    The proxy's own information: proxy, clients, cluster, all (default).",
    "CONFIG GET <option>",
    "    A setting: threads, maxclients, enable-cross-slot, log-level, read-from, ...",
    "CONFIG SET <option> <value>",
    "    Change enable-cross-slot, maxclients, max-inflight-per-client, log-level or dump-*.",
    "CLUSTER [INFO|STATUS|CONNECTION|NODES|UPDATE]",
    "    The cluster as the proxy sees it; UPDATE refreshes the topology now.",
    "CLIENT ID|THREAD",
    "    This client's id.",
    "MULTIPLEXING STATUS|OFF",
    "    Whether this client shares node connections; OFF gives it its own.",
    "COMMAND",
    "    The command table: name and arity of every command.",
    "SHUTDOWN [ASAP]",
    "    Shut the proxy down gracefully (admin users only).",
    "LOG [<level>] <message>",
    "    Write a message to the proxy's log.",
    "PING",
    "HELP",
];

/// Answers `PROXY …`.
pub fn answer(
    req: &Request,
    state: &mut ClientState,
    ctx: &Context<'_>,
    shared: &Shared,
    out: &mut BytesMut,
) {
    let sub = req.arg(1).unwrap_or_default().to_ascii_lowercase();
    let arg = |i: usize| req.arg(i).unwrap_or_default().to_ascii_lowercase();
    let proto = state.protocol;
    match sub.as_slice() {
        b"ping" => encode::simple(out, b"PONG"),
        b"help" | b"" => {
            encode::array_header(out, HELP.len());
            for line in HELP {
                encode::simple(out, line.as_bytes());
            }
        }
        b"info" => {
            let section = arg(2);
            let text = info(section.as_slice(), state, ctx, shared);
            match text {
                Some(t) => encode::verbatim(out, t.as_bytes(), proto),
                None => encode::error(out, b"ERR slotway: unknown PROXY INFO section"),
            }
        }
        b"config" => proxy_config::config(req, state, shared, out),
        b"multiplexing" => proxy_config::multiplexing(req, state, shared, out),
        b"cluster" => cluster(arg(2).as_slice(), state, ctx, shared, out),
        b"client" => match arg(2).as_slice() {
            // redis-cluster-proxy's `thread:id` form; the thread is the
            // worker this session runs on (0 with a single runtime).
            b"id" => encode::bulk(
                out,
                format!("{}:{}", crate::workers::current(), state.id).as_bytes(),
            ),
            b"thread" => {
                encode::integer(out, i64::try_from(crate::workers::current()).unwrap_or(0))
            }
            _ => encode::error(out, b"ERR slotway: PROXY CLIENT takes ID or THREAD"),
        },
        b"command" => {
            let commands = slotway_command::table::COMMANDS;
            encode::array_header(out, commands.len());
            for c in commands {
                encode::array_header(out, 2);
                encode::bulk(out, c.name.as_bytes());
                encode::integer(out, i64::from(c.arity));
            }
        }
        b"log" => {
            let (level, msg) = match req.argc() {
                n if n >= 4 => (arg(2), req.arg(3).unwrap_or_default()),
                _ => (b"info".to_vec(), req.arg(2).unwrap_or_default()),
            };
            let msg = String::from_utf8_lossy(msg.get(..msg.len().min(4096)).unwrap_or_default());
            match level.as_slice() {
                b"debug" => tracing::debug!(client = state.id, "PROXY LOG: {msg}"),
                b"warning" | b"warn" => tracing::warn!(client = state.id, "PROXY LOG: {msg}"),
                b"error" => tracing::error!(client = state.id, "PROXY LOG: {msg}"),
                _ => tracing::info!(client = state.id, "PROXY LOG: {msg}"),
            }
            encode::simple(out, b"OK");
        }
        b"shutdown" if !may_shut_down(state) => encode::error(out, proxy_config::NOPERM),
        b"shutdown" if req.argc() == 2 || (req.argc() == 3 && arg(2) == b"asap") => {
            tracing::warn!(
                client = state.id,
                user = state.user.name(),
                "PROXY SHUTDOWN: shutting down"
            );
            shared.shutdown_requested.cancel();
            encode::simple(out, b"OK");
        }
        b"shutdown" => encode::error(out, b"ERR syntax error"),
        b"debug" => encode::error(out, b"ERR slotway: PROXY DEBUG is not provided"),
        _ => {
            let mut m = b"ERR unknown subcommand '".to_vec();
            m.extend_from_slice(req.arg(1).unwrap_or_default());
            m.extend_from_slice(b"'. Try PROXY HELP.");
            encode::error(out, &m);
        }
    }
}

fn info(section: &[u8], state: &ClientState, ctx: &Context<'_>, shared: &Shared) -> Option<String> {
    let all = matches!(section, b"" | b"all" | b"default" | b"everything");
    let mut t = String::new();
    if all || section == b"proxy" {
        let uptime = STARTED.get().map_or(0, |s| s.elapsed().as_secs());
        let port = ctx.announce.map_or(0, |a| a.port());
        t.push_str(&format!(
            "# Proxy\r\nproxy_version:{}\r\nos:{} {}\r\nprocess_id:{}\r\ntcp_port:{port}\r\nuptime_in_seconds:{uptime}\r\nbackend_redis_version:{}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            ctx.backend_version.unwrap_or("unknown"),
        ));
    }
    if all || section == b"clients" {
        t.push_str(&format!(
            "# Clients\r\nconnected_clients:{}\r\nclient_id:{}\r\n\r\n",
            ctx.clients.len(),
            state.id
        ));
    }
    if all || section == b"cluster" {
        let table = ctx.table;
        t.push_str(&format!(
            "# Cluster\r\nmasters:{}\r\nslots_covered:{}\r\ntopology_version:{}\r\nseeds:{}\r\n\r\n",
            table.masters().len(),
            table.covered_slots(),
            table.version(),
            shared.topology.candidates().join(","),
        ));
    }
    (!t.is_empty()).then_some(t)
}

fn cluster(
    sub: &[u8],
    state: &ClientState,
    ctx: &Context<'_>,
    shared: &Shared,
    out: &mut BytesMut,
) {
    let table = ctx.table;
    let status: &[u8] = if table.covered_slots() == usize::from(slotway_hashkit::SLOT_COUNT) {
        b"updated"
    } else if table.is_known() {
        b"incomplete"
    } else {
        b"broken"
    };
    match sub {
        b"status" => encode::bulk(out, status),
        b"connection" => encode::bulk(out, if state.private { b"private" } else { b"shared" }),
        b"update" => {
            shared.topology.request_refresh();
            encode::bulk(out, b"started");
        }
        b"nodes" | b"info" | b"" => {
            let masters = table.masters_in_slot_order();
            if sub == b"info" || sub.is_empty() {
                encode::array_header(out, 4);
                encode::bulk(out, b"status");
                encode::bulk(out, status);
                encode::bulk(out, b"nodes");
            }
            encode::array_header(out, masters.len());
            for node in masters {
                let addr = node.addr();
                let (ip, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
                encode::array_header(out, 6);
                encode::bulk(out, b"ip");
                encode::bulk(out, ip.as_bytes());
                encode::bulk(out, b"port");
                encode::bulk(out, port.as_bytes());
                encode::bulk(out, b"role");
                encode::bulk(out, b"master");
            }
        }
        _ => encode::error(
            out,
            b"ERR slotway: PROXY CLUSTER takes INFO, STATUS, CONNECTION, NODES or UPDATE",
        ),
    }
}
