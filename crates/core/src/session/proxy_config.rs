//! `PROXY CONFIG GET|SET` and `PROXY MULTIPLEXING`: the proxy's settings
//! as redis-cluster-proxy names them, the runtime-settable ones
//! ([`crate::runtime::Runtime`]), and a client's switch to private node
//! connections ([`super::private`]).
//!
//! Who may change things: a user with `admin = true` (`[[users]]`). The
//! redis-cluster-proxy drop-in also lets every client tune a proxy with no
//! authentication configured at all (no `requirepass`, no `[[users]]`), as
//! redis-cluster-proxy does (its own test suite relies on it); SHUTDOWN
//! always needs an admin user, so no anonymous client can stop the proxy.
//! MULTIPLEXING OFF only concerns the caller: open to every client of a
//! proxy without authentication.
//! Reading (GET, STATUS) is open to every client.

use bytes::BytesMut;
use slotway_resp::{Request, encode};

use super::Shared;
use super::local::ClientState;
use crate::config::Multiplexing;

/// The NOPERM a client without the right to change the proxy gets.
pub(super) const NOPERM: &[u8] = b"NOPERM slotway: this PROXY subcommand changes the proxy and needs an admin user (admin = true in [[users]])";

/// Whether this client may tune the proxy (CONFIG SET).
pub(super) fn may_change(state: &ClientState, shared: &Shared) -> bool {
    state.user.is_admin() || (shared.users.current().is_open() && shared.runtime.rcp_compat())
}

/// Whether this client may take its own node connections (MULTIPLEXING
/// OFF): it changes nothing for other clients, so on a proxy with no
/// authentication configured every client may, like a blocking command
/// that leases a connection; otherwise admin users only.
pub(super) fn may_go_private(state: &ClientState, shared: &Shared) -> bool {
    state.user.is_admin() || shared.users.current().is_open()
}

/// Whether this client may shut the proxy down: admin users only.
pub(super) fn may_shut_down(state: &ClientState) -> bool {
    state.user.is_admin()
}

/// `PROXY CONFIG GET <option>` / `PROXY CONFIG SET <option> <value>`.
pub(super) fn config(req: &Request, state: &ClientState, shared: &Shared, out: &mut BytesMut) {
    let lower = |i: usize| {
        String::from_utf8_lossy(&req.arg(i).unwrap_or_default().to_ascii_lowercase()).into_owned()
    };
    let (op, name) = (lower(2), lower(3));
    match (op.as_str(), req.argc()) {
        ("get", 4) => match value(&name, shared) {
            Some(v) => {
                encode::array_header(out, 2);
                encode::bulk(out, name.as_bytes());
                encode::bulk(out, v.as_bytes());
            }
            None => encode::array_header(out, 0),
        },
        ("set", 5) if !may_change(state, shared) => encode::error(out, NOPERM),
        ("set", 5) => {
            let v = String::from_utf8_lossy(req.arg(4).unwrap_or_default()).into_owned();
            match shared.runtime.set(&name, &v) {
                Ok(()) => {
                    tracing::info!(client = state.id, user = state.user.name(), option = %name, value = %v, "PROXY CONFIG SET");
                    encode::simple(out, b"OK");
                }
                Err(e) => encode::error(out, format!("ERR {}", e.0).as_bytes()),
            }
        }
        ("get" | "set", _) => {
            let msg = format!("ERR wrong number of arguments for 'proxy|config|{op}' command");
            encode::error(out, msg.as_bytes());
        }
        _ => encode::error(
            out,
            b"ERR slotway: PROXY CONFIG takes GET <option> or SET <option> <value>",
        ),
    }
}

/// The value `PROXY CONFIG GET name` shows, if `name` is an option.
fn value(name: &str, shared: &Shared) -> Option<String> {
    if let Some(v) = shared.runtime.get(name) {
        return Some(v);
    }
    let s = &shared.settings;
    Some(match name {
        "threads" => s.threads.to_string(),
        "read-from" => format!("{:?}", s.read_from).to_lowercase(),
        "max-redirects" => s.max_redirects.to_string(),
        "park-timeout" => s.park_timeout.as_millis().to_string(),
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
        "disable-multiplexing" => format!("{:?}", s.multiplexing).to_lowercase(),
        "auth" => if shared.users.current().default_user().has_password() {
            "<redacted>"
        } else {
            ""
        }
        .to_owned(),
        _ => return None,
    })
}

/// `PROXY MULTIPLEXING STATUS|OFF`.
pub(super) fn multiplexing(
    req: &Request,
    state: &mut ClientState,
    shared: &Shared,
    out: &mut BytesMut,
) {
    let sub = req.arg(2).unwrap_or_default().to_ascii_lowercase();
    match sub.as_slice() {
        b"status" => encode::bulk(out, if state.private { b"off" } else { b"on" }),
        b"off" if state.private => encode::simple(out, b"OK"),
        b"off" if shared.settings.multiplexing == Multiplexing::Never => encode::error(
            out,
            b"ERR slotway: multiplexing cannot be turned off (proxy.disable_multiplexing = never)",
        ),
        b"off" if !may_go_private(state, shared) => encode::error(out, NOPERM),
        b"off" => {
            state.private = true;
            tracing::debug!(
                client = state.id,
                "PROXY MULTIPLEXING OFF: private node connections"
            );
            encode::simple(out, b"OK");
        }
        _ => encode::error(out, b"ERR slotway: PROXY MULTIPLEXING takes STATUS or OFF"),
    }
}

/// `dump-queries`: one debug line per request, its arguments quoted (at
/// most 16 shown, each cut at 64 bytes; AUTH's and HELLO's secrets
/// redacted as in the slow log).
#[cold]
pub(super) fn dump_query(client: u64, req: &Request) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let mut line = String::new();
    let first: smallvec::SmallVec<[&[u8]; 16]> = req.args().take(16).collect();
    let redact = crate::slowlog::redacted_positions(&first, req.argc());
    for i in 0..req.argc().min(16) {
        if redact.contains(&i) {
            line.push_str(" (redacted)");
            continue;
        }
        let a = req.arg(i).unwrap_or_default();
        let shown = a.get(..a.len().min(64)).unwrap_or_default();
        line.push_str(&format!(" {:?}", String::from_utf8_lossy(shown)));
    }
    tracing::debug!(client, "query:{line}");
}

/// redis-cluster-proxy's answer to a multi-slot command it will not split
/// (the drop-in answers it instead of `CROSSSLOT`).
pub(super) fn rcp_cross_slot(enabled: bool) -> &'static [u8] {
    if enabled {
        b"ERR Cross-slot queries are not supported for this command."
    } else {
        b"ERR Cross-slot queries are disabled. They can be enabled by using the --enable-cross-slot option, or by calling PROXY CONFIG SET enable-cross-slot 1. WARN: cross-slot queries can break the atomicity of the query itself."
    }
}
