//! The `PROXY` command, compatible with redis-cluster-proxy's: the proxy's
//! own INFO, configuration, view of the cluster, and a few utilities.
//!
//! Subcommands that change the proxy (CONFIG SET, MULTIPLEXING OFF,
//! SHUTDOWN) need a user with `admin = true` (`[[users]]`); others get
//! NOPERM. SHUTDOWN starts the graceful shutdown; no setting can be changed
//! at runtime yet and multiplexing cannot be turned off, which those two
//! answer. There is no `PROXY DEBUG` (redis-cluster-proxy's let any client
//! crash it).

use std::time::Instant;

use bytes::BytesMut;
use slotway_resp::{Request, encode};

use super::Shared;
use super::local::{ClientState, Context};

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
    "    A setting: threads, enable-cross-slot, connections-pool-size, read-from, ...",
    "CLUSTER [INFO|STATUS|CONNECTION|NODES|UPDATE]",
    "    The cluster as the proxy sees it; UPDATE refreshes the topology now.",
    "CLIENT ID|THREAD",
    "    This client's id.",
    "MULTIPLEXING STATUS",
    "    Whether this client shares backend connections (always on).",
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
    state: &ClientState,
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
        b"config" if arg(2) == b"get" => {
            let name = String::from_utf8_lossy(&arg(3)).into_owned();
            match config_value(&name, shared) {
                Some(v) => {
                    encode::array_header(out, 2);
                    encode::bulk(out, name.as_bytes());
                    encode::bulk(out, v.as_bytes());
                }
                None => encode::array_header(out, 0),
            }
        }
        b"cluster" => cluster(arg(2).as_slice(), ctx, shared, out),
        b"client" => match arg(2).as_slice() {
            b"id" => encode::bulk(out, format!("0:{}", state.id).as_bytes()),
            b"thread" => encode::integer(out, 0),
            _ => encode::error(out, b"ERR slotway: PROXY CLIENT takes ID or THREAD"),
        },
        b"multiplexing" if arg(2) == b"status" => encode::bulk(out, b"on"),
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
        b"config" | b"multiplexing" | b"shutdown" if !state.user.is_admin() => encode::error(
            out,
            b"NOPERM slotway: this PROXY subcommand changes the proxy and needs an admin user (admin = true in [[users]])",
        ),
        b"shutdown" if req.argc() == 2 || (req.argc() == 3 && arg(2) == b"asap") => {
            tracing::warn!(client = state.id, user = state.user.name(), "PROXY SHUTDOWN: shutting down");
            shared.shutdown_requested.cancel();
            encode::simple(out, b"OK");
        }
        b"shutdown" => encode::error(out, b"ERR syntax error"),
        b"config" => encode::error(
            out,
            b"ERR slotway: no setting can be changed at runtime; edit the configuration file and restart",
        ),
        b"multiplexing" => encode::error(
            out,
            b"ERR slotway: multiplexing cannot be turned off: every client shares the node connections",
        ),
        b"debug" => encode::error(out, b"ERR slotway: PROXY DEBUG is not provided"),
        _ => {
            let mut m = b"ERR unknown subcommand '".to_vec();
            m.extend_from_slice(req.arg(1).unwrap_or_default());
            m.extend_from_slice(b"'. Try PROXY HELP.");
            encode::error(out, &m);
        }
    }
}

fn config_value(name: &str, shared: &Shared) -> Option<String> {
    let s = &shared.settings;
    Some(match name {
        "enable-cross-slot" => if s.policy.split_multi_key {
            "yes"
        } else {
            "no"
        }
        .to_owned(),
        "read-from" => format!("{:?}", s.read_from).to_lowercase(),
        "max-inflight-per-client" => s.max_inflight.to_string(),
        "max-redirects" => s.max_redirects.to_string(),
        "park-timeout" => s.park_timeout.as_millis().to_string(),
        "maxclients" => s.client_limits.maxclients.to_string(),
        "tcpkeepalive" => s
            .client_limits
            .tcp_keepalive
            .map_or(0, |d| d.as_secs())
            .to_string(),
        "timeout" => s
            .client_limits
            .idle_timeout
            .map_or(0, |d| d.as_secs())
            .to_string(),
        "auth" => if s.users.default_user().has_password() {
            "<redacted>"
        } else {
            ""
        }
        .to_owned(),
        _ => return None,
    })
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

fn cluster(sub: &[u8], ctx: &Context<'_>, shared: &Shared, out: &mut BytesMut) {
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
        b"connection" => encode::bulk(out, b"shared"),
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
