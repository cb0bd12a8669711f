//! Commands the proxy answers itself, with Redis's exact replies and errors:
//! PING, ECHO, QUIT, HELLO, SELECT, RESET, AUTH, CLIENT SETNAME/GETNAME/ID/
//! SETINFO, CLUSTER KEYSLOT and SLOWLOG (the proxy's own).
//!
//! The proxy looks like one standalone Redis to its clients (HELLO says
//! `mode: standalone`), with the version of the Redis nodes behind it.

use bytes::{Bytes, BytesMut};
use slotway_resp::num::string2ll;
use slotway_resp::{Protocol, Request, encode};

use super::clients::{Client, Registry};
use crate::cluster::SlotTable;
use crate::route::Local;

/// Version reported before any node has told its own.
const FALLBACK_VERSION: &str = "7.0.0";

/// Per-client state the local commands read and change.
#[derive(Debug, Default)]
pub struct ClientState {
    /// Proxy-wide unique client id (CLIENT ID, HELLO).
    pub id: u64,
    /// The proxy address this client connected to (announced to
    /// cluster-aware clients unless one is configured).
    pub local_addr: Option<std::net::SocketAddr>,
    /// Reply protocol negotiated with HELLO.
    pub protocol: Protocol,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Bytes>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<Bytes>,
    /// READONLY: reads may go to replicas.
    pub readonly: bool,
    /// AUTH succeeded, or no password is required.
    pub authenticated: bool,
    /// The ACL user this client runs as (`default` until AUTH).
    pub user: std::sync::Arc<crate::acl::User>,
    /// Multiplexing off (PROXY MULTIPLEXING OFF, or
    /// `proxy.disable_multiplexing = "always"`): requests travel on this
    /// client's own node connections. Never turned back on (not even by
    /// RESET), as in redis-cluster-proxy.
    pub private: bool,
}

/// What local answers may need to know beyond the client's own state.
pub struct Context<'a> {
    /// `redis_version` of the nodes, once known.
    pub backend_version: Option<&'a str>,
    /// Address cluster-aware clients are told to use.
    pub announce: Option<std::net::SocketAddr>,
    /// The current slot table.
    pub table: &'a SlotTable,
    /// Every client of the proxy.
    pub clients: &'a Registry,
    /// The users clients authenticate as (read only by AUTH, HELLO and
    /// RESET, which record the client's user with the table read).
    pub users: &'a super::users::LiveUsers,
    /// The proxy's shared state (PROXY).
    pub shared: Option<&'a super::Shared>,
    /// This client.
    pub me: &'a Client,
}

/// What the session must do after a local command besides sending `reply`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Nothing.
    Continue,
    /// Close the connection once the reply is written (QUIT).
    Close,
}

/// Answers a local command into `out`.
pub fn answer(
    cmd: Local,
    req: &Request,
    state: &mut ClientState,
    ctx: &Context<'_>,
    out: &mut BytesMut,
) -> After {
    let arg = |i| req.arg(i).unwrap_or_default();
    match cmd {
        Local::Ping => match req.arg(1) {
            None => encode::simple(out, b"PONG"),
            Some(msg) => encode::bulk(out, msg),
        },
        Local::Echo => encode::bulk(out, arg(1)),
        Local::AclWhoami => encode::bulk(out, state.user.name().as_bytes()),
        Local::Quit => {
            encode::simple(out, b"OK");
            return After::Close;
        }
        Local::Hello => ctx.users.bind(ctx.me, |users| {
            hello(req, state, users, ctx, out);
            ((), Some(state.user.clone()))
        }),
        Local::Select => select(arg(1), out),
        Local::Reset => ctx.users.bind(ctx.me, |users| {
            // RESET also de-authenticates, as in Redis.
            *state = ClientState {
                id: state.id,
                local_addr: state.local_addr,
                authenticated: users.starts_authenticated(),
                user: users.default_user().clone(),
                private: state.private,
                ..ClientState::default()
            };
            encode::simple(out, b"RESET");
            ((), Some(state.user.clone()))
        }),
        Local::Auth => ctx.users.bind(ctx.me, |users| {
            let default_nopass = users.default_user().needs_no_auth();
            let result = match req.argc() {
                2 if default_nopass => Err(b"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".as_slice()),
                2 => check_credentials(b"default", arg(1), users),
                _ => check_credentials(arg(1), arg(2), users),
            };
            match result {
                Ok(user) => {
                    state.authenticated = true;
                    state.user = user;
                    encode::simple(out, b"OK");
                }
                // A failed AUTH never takes rights away, nor grants any.
                Err(e) => encode::error(out, e),
            }
            ((), Some(state.user.clone()))
        }),
        Local::ClientSetName => match valid_name(arg(2)) {
            true if arg(2).is_empty() => {
                state.name = None;
                encode::simple(out, b"OK");
            }
            true => {
                state.name = req.arg_owned(2);
                encode::simple(out, b"OK");
            }
            false => encode::error(
                out,
                b"ERR Client names cannot contain spaces, newlines or special characters.",
            ),
        },
        Local::ClientGetName => match &state.name {
            Some(name) => encode::bulk(out, name),
            None => encode::null(out, state.protocol),
        },
        Local::ClientId => encode::integer(out, i64::try_from(state.id).unwrap_or(i64::MAX)),
        Local::ClientSetInfo => client_setinfo(req, state, out),
        Local::ClusterKeyslot => encode::integer(out, i64::from(slotway_hashkit::key_slot(arg(2)))),
        Local::ClientList => {
            let mut text = String::new();
            for c in ctx.clients.all() {
                let cmd = if c.id == state.id {
                    "client|list"
                } else {
                    "NULL"
                };
                text.push_str(&c.line(cmd));
                text.push('\n');
            }
            encode::verbatim(out, text.as_bytes(), state.protocol);
        }
        Local::ClientInfo => {
            let mut line = ctx.me.line("client|info");
            line.push('\n');
            encode::verbatim(out, line.as_bytes(), state.protocol);
        }
        Local::ClientKill => return super::kill::kill(req, ctx, out),
        // The session answers CLIENT REPLY itself (it changes what is written).
        Local::ClientReply => {}
        Local::ClientNoEvict => match req.arg(2) {
            Some(a) if a.eq_ignore_ascii_case(b"on") || a.eq_ignore_ascii_case(b"off") => {
                encode::simple(out, b"OK");
            }
            _ => encode::error(out, b"ERR syntax error"),
        },
        Local::ClientGetRedir => encode::integer(out, -1),
        Local::Asking => encode::simple(out, b"OK"),
        Local::ClientPause => match ctx.shared {
            Some(shared) => pause(req, shared, out),
            None => encode::error(out, b"ERR slotway: CLIENT PAUSE is not available here"),
        },
        Local::ClientUnpause => {
            if let Some(shared) = ctx.shared {
                shared.pause.stop();
                // Held requests go now, not when the pause would have ended.
                shared.clients.ring_all(crate::backend::ring::RESUME);
            }
            encode::simple(out, b"OK");
        }
        Local::Proxy => match ctx.shared {
            Some(shared) => super::proxy_cmd::answer(req, state, ctx, shared, out),
            None => encode::error(out, b"ERR slotway: PROXY is not available here"),
        },
        Local::ReadOnly => {
            state.readonly = true;
            encode::simple(out, b"OK");
        }
        Local::ReadWrite => {
            state.readonly = false;
            encode::simple(out, b"OK");
        }
        Local::SlowLog => match ctx.shared {
            Some(shared) => crate::slowlog::answer(req, &shared.slowlog, out),
            None => encode::error(out, b"ERR slotway: SLOWLOG is not available here"),
        },
        Local::ClusterView(view) => {
            super::cluster_view::answer(view, ctx.announce, ctx.table, state.protocol, out);
        }
    }
    After::Continue
}

/// CLIENT PAUSE timeout [WRITE|ALL].
fn pause(req: &Request, shared: &super::Shared, out: &mut BytesMut) {
    let Some(ms) = req
        .arg(2)
        .and_then(string2ll)
        .and_then(|t| u64::try_from(t).ok())
    else {
        return encode::error(out, b"ERR timeout is not an integer or out of range");
    };
    let writes_only = match req.arg(3) {
        None => false,
        Some(m) if m.eq_ignore_ascii_case(b"all") => false,
        Some(m) if m.eq_ignore_ascii_case(b"write") => true,
        Some(_) => return encode::error(out, b"ERR syntax error"),
    };
    shared
        .pause
        .start(std::time::Duration::from_millis(ms), writes_only);
    // WRITE after ALL holds less (as in Redis 7, the new mode replaces the
    // old): held reads go now.
    shared.clients.ring_all(crate::backend::ring::RESUME);
    encode::simple(out, b"OK");
}

/// The user `user` if `pass` opens it; Redis's error otherwise (the same
/// for an unknown user, a wrong password and a disabled user).
fn check_credentials(
    user: &[u8],
    pass: &[u8],
    users: &crate::acl::Users,
) -> Result<std::sync::Arc<crate::acl::User>, &'static [u8]> {
    users
        .authenticate(user, pass)
        .ok_or(b"WRONGPASS invalid username-password pair or user is disabled.")
}

fn hello(
    req: &Request,
    state: &mut ClientState,
    users: &crate::acl::Users,
    ctx: &Context<'_>,
    out: &mut BytesMut,
) {
    let version = ctx.backend_version;
    let mut protocol = state.protocol;
    let mut i = 1;
    if let Some(v) = req.arg(1) {
        match string2ll(v) {
            Some(2) => protocol = Protocol::Resp2,
            Some(3) => protocol = Protocol::Resp3,
            Some(_) => {
                encode::error(out, b"NOPROTO unsupported protocol version");
                return;
            }
            None => {
                encode::error(
                    out,
                    b"ERR Protocol version is not an integer or out of range",
                );
                return;
            }
        }
        i = 2;
    }
    let mut name = None;
    let mut authenticated = None;
    while let Some(opt) = req.arg(i) {
        let more = req.argc() - i - 1;
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            let (user, pass) = (
                req.arg(i + 1).unwrap_or_default(),
                req.arg(i + 2).unwrap_or_default(),
            );
            match check_credentials(user, pass, users) {
                Ok(u) => authenticated = Some(u),
                Err(e) => {
                    encode::error(out, e);
                    return;
                }
            }
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            let n = req.arg(i + 1).unwrap_or_default();
            if !valid_name(n) {
                encode::error(
                    out,
                    b"ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return;
            }
            name = Some(req.arg_owned(i + 1));
            i += 2;
        } else {
            let mut msg = b"ERR Syntax error in HELLO option '".to_vec();
            msg.extend_from_slice(opt);
            msg.push(b'\'');
            encode::error(out, &msg);
            return;
        }
    }
    if authenticated.is_none() && !state.authenticated && !users.starts_authenticated() {
        encode::error(
            out,
            b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
        return;
    }
    state.authenticated = true;
    if let Some(user) = authenticated {
        state.user = user;
    }
    if let Some(name) = name {
        state.name = name.filter(|n| !n.is_empty());
    }
    state.protocol = protocol;
    encode::map_header(out, 7, protocol);
    encode::bulk(out, b"server");
    encode::bulk(out, b"redis");
    encode::bulk(out, b"version");
    encode::bulk(out, version.unwrap_or(FALLBACK_VERSION).as_bytes());
    encode::bulk(out, b"proto");
    encode::integer(out, if protocol == Protocol::Resp3 { 3 } else { 2 });
    encode::bulk(out, b"id");
    encode::integer(out, i64::try_from(state.id).unwrap_or(i64::MAX));
    encode::bulk(out, b"mode");
    encode::bulk(out, b"standalone");
    encode::bulk(out, b"role");
    encode::bulk(out, b"master");
    encode::bulk(out, b"modules");
    encode::array_header(out, 0);
}

fn select(db: &[u8], out: &mut BytesMut) {
    match string2ll(db) {
        None => encode::error(out, b"ERR value is not an integer or out of range"),
        Some(0) => encode::simple(out, b"OK"),
        Some(_) => encode::error(out, b"ERR SELECT is not allowed in cluster mode"),
    }
}

fn client_setinfo(req: &Request, state: &mut ClientState, out: &mut BytesMut) {
    let attr = req.arg(2).unwrap_or_default();
    let value = req.arg(3).unwrap_or_default();
    let lib_name = attr.eq_ignore_ascii_case(b"lib-name");
    if !lib_name && !attr.eq_ignore_ascii_case(b"lib-ver") {
        let mut msg = b"ERR Unrecognized option '".to_vec();
        msg.extend_from_slice(attr);
        msg.push(b'\'');
        encode::error(out, &msg);
        return;
    }
    if !valid_name(value) {
        let which: &[u8] = if lib_name { b"lib-name" } else { b"lib-ver" };
        let mut msg = b"ERR ".to_vec();
        msg.extend_from_slice(which);
        msg.extend_from_slice(b" cannot contain spaces, newlines or special characters.");
        encode::error(out, &msg);
        return;
    }
    let value = req.arg_owned(3).filter(|v| !v.is_empty());
    if lib_name {
        state.lib_name = value;
    } else {
        state.lib_ver = value;
    }
    encode::simple(out, b"OK");
}

/// Redis accepts client names of printable ASCII without spaces.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(state: &mut ClientState, cmd: Local, args: &[&str]) -> (String, After) {
        let req = Request::from_args(args.iter().map(|a| a.as_bytes()));
        let mut out = BytesMut::new();
        let table = SlotTable::empty(crate::route::KeyMap::Cluster);
        let clients = std::sync::Arc::new(Registry::default());
        let membership = clients.join(state.id, None, None, std::sync::Arc::default());
        let ctx = Context {
            backend_version: Some("7.0.15"),
            announce: None,
            table: &table,
            clients: &clients,
            users: &super::super::users::LiveUsers::default(),
            shared: None,
            me: &membership.client,
        };
        let after = answer(cmd, &req, state, &ctx, &mut out);
        (String::from_utf8_lossy(&out).into_owned(), after)
    }

    #[test]
    fn ping_echo_quit() {
        let mut s = ClientState::default();
        assert_eq!(run(&mut s, Local::Ping, &["PING"]).0, "+PONG\r\n");
        assert_eq!(run(&mut s, Local::Ping, &["PING", "hi"]).0, "$2\r\nhi\r\n");
        assert_eq!(run(&mut s, Local::Echo, &["ECHO", ""]).0, "$0\r\n\r\n");
        assert_eq!(
            run(&mut s, Local::Quit, &["QUIT"]),
            ("+OK\r\n".into(), After::Close)
        );
    }

    #[test]
    fn hello_switches_protocol_and_sets_name() {
        let mut s = ClientState {
            id: 7,
            ..Default::default()
        };
        let (r, _) = run(&mut s, Local::Hello, &["HELLO", "3", "SETNAME", "app"]);
        assert!(
            r.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"),
            "{r}"
        );
        assert!(r.contains("$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:7\r\n"), "{r}");
        assert_eq!(s.protocol, Protocol::Resp3);
        assert_eq!(s.name.as_deref(), Some(&b"app"[..]));
        let (r, _) = run(&mut s, Local::Hello, &["HELLO", "2"]);
        assert!(r.starts_with("*14\r\n"), "{r}");
        assert_eq!(
            run(&mut s, Local::Hello, &["HELLO", "4"]).0,
            "-NOPROTO unsupported protocol version\r\n"
        );
        assert_eq!(
            run(
                &mut s,
                Local::Hello,
                &["HELLO", "3", "AUTH", "default", "x"]
            )
            .0
            .get(..2),
            Some("%7")
        );
        assert!(
            run(&mut s, Local::Hello, &["HELLO", "3", "AUTH", "bob", "x"])
                .0
                .starts_with("-WRONGPASS")
        );
        assert_eq!(
            run(&mut s, Local::Hello, &["HELLO", "3", "BOGUS"]).0,
            "-ERR Syntax error in HELLO option 'BOGUS'\r\n"
        );
    }

    #[test]
    fn select_and_client() {
        let mut s = ClientState {
            id: 3,
            ..Default::default()
        };
        assert_eq!(run(&mut s, Local::Select, &["SELECT", "0"]).0, "+OK\r\n");
        assert_eq!(
            run(&mut s, Local::Select, &["SELECT", "1"]).0,
            "-ERR SELECT is not allowed in cluster mode\r\n"
        );
        assert_eq!(
            run(&mut s, Local::Select, &["SELECT", "x"]).0,
            "-ERR value is not an integer or out of range\r\n"
        );
        assert!(
            run(&mut s, Local::Select, &["SELECT", "+0"])
                .0
                .starts_with("-ERR value is not an integer")
        );
        assert_eq!(
            run(&mut s, Local::ClientGetName, &["CLIENT", "GETNAME"]).0,
            "$-1\r\n"
        );
        assert_eq!(
            run(&mut s, Local::ClientSetName, &["CLIENT", "SETNAME", "a b"])
                .0
                .get(..4),
            Some("-ERR")
        );
        assert_eq!(
            run(&mut s, Local::ClientSetName, &["CLIENT", "SETNAME", "ab"]).0,
            "+OK\r\n"
        );
        assert_eq!(
            run(&mut s, Local::ClientGetName, &["CLIENT", "GETNAME"]).0,
            "$2\r\nab\r\n"
        );
        assert_eq!(run(&mut s, Local::ClientId, &["CLIENT", "ID"]).0, ":3\r\n");
        assert_eq!(
            run(
                &mut s,
                Local::ClientSetInfo,
                &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]
            )
            .0,
            "+OK\r\n"
        );
        assert_eq!(
            run(
                &mut s,
                Local::ClientSetInfo,
                &["CLIENT", "SETINFO", "x", "y"]
            )
            .0,
            "-ERR Unrecognized option 'x'\r\n"
        );
        assert_eq!(run(&mut s, Local::Reset, &["RESET"]).0, "+RESET\r\n");
        assert_eq!(s.name, None);
        assert_eq!(s.id, 3);
        assert_eq!(
            run(
                &mut s,
                Local::ClusterKeyslot,
                &["CLUSTER", "KEYSLOT", "foo"]
            )
            .0,
            ":12182\r\n"
        );
        assert!(
            run(&mut s, Local::Auth, &["AUTH", "pw"])
                .0
                .starts_with("-ERR AUTH <password> called without")
        );
    }
}
