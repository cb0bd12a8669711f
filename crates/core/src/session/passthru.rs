//! Credential pass-through (`proxy.auth_passthrough`, on in the
//! redis-cluster-proxy drop-in): with no users of the proxy's own, a client
//! `AUTH [user] pass` (or `HELLO … AUTH user pass`) naming credentials other
//! than the proxy's backend ones is checked by the cluster, and once
//! accepted the client runs as that user: its requests go on its own node
//! connections ([`super::private`]), which authenticate with its
//! credentials — on connect, on reconnect, on every node a MOVED/ASK leads
//! to — so the nodes enforce that user's rights (NOPERM comes from Redis).
//!
//! Invariants:
//! - The cluster decides: the credentials are sent as `AUTH` to one master
//!   on a connection leased for that alone, which is then closed, never
//!   pooled (it is authenticated as the client's user afterwards).
//! - A pass-through AUTH is a barrier: it is sent once every earlier request
//!   of the client is answered, and no later request is read until it is
//!   answered. Each request thus runs with the identity in force when the
//!   client sent it (a pipelined `AUTH ro …` then `SET` never runs the SET
//!   with the proxy's rights), and switching closes no connection with
//!   anything in flight.
//! - A refused AUTH changes nothing: the client keeps its identity, with
//!   neither fewer nor more rights (redis-cluster-proxy kept the proxy's
//!   rights instead, even after an accepted AUTH as another user).
//! - Credentials travel only inside [`Credentials`] and the AUTH request;
//!   neither is logged (redacted `Debug`, dump-queries redacts AUTH).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use slotway_resp::Request;

use super::local;
use super::queue::{Entry, Queue, Target, Unit, Via};
use crate::backend::Credentials;
use crate::cluster::SlotTable;
use crate::route::Local;

/// What an accepted pass-through AUTH does.
#[derive(Debug)]
pub(super) struct AuthThen {
    /// The identity to take: the client's credentials, or `None` for the
    /// proxy's own (a client returning to it).
    creds: Option<Arc<Credentials>>,
    /// HELLO … AUTH: the HELLO without its AUTH option, answered once the
    /// credentials are accepted.
    hello: Option<Request>,
}

/// `AUTH [user] pass` or `HELLO proto … AUTH user pass …`, split into the
/// credentials and, for HELLO, the HELLO left once AUTH is taken out.
struct Asked {
    user: Option<Bytes>,
    pass: Bytes,
    hello: Option<Request>,
}

impl Queue {
    /// AUTH or HELLO … AUTH under pass-through. `false`: not for it (the
    /// setting is off, no credentials, a malformed request): answer it
    /// locally as usual.
    pub(super) fn passthru_auth(&mut self, cmd: Local, req: &Request, table: &SlotTable) -> bool {
        if !self.shared.settings.auth_passthrough {
            return false;
        }
        let asked = match cmd {
            Local::Auth => auth_args(req),
            Local::Hello => hello_args(req),
            _ => None,
        };
        let Some(asked) = asked else {
            return false;
        };
        let prelude = self.shared.topology.prelude();
        let own = prelude.is_identity(asked.user.as_deref(), &asked.pass);
        if own && self.private.creds.is_none() {
            // The identity in force already: nothing to switch.
            match (asked.hello, prelude.authenticates()) {
                (Some(hello), _) => self.answer_local_hello(&hello, table),
                (None, true) => self.push_ready(Bytes::from_static(b"+OK\r\n")),
                // Nodes without a password: Redis's own answer.
                (None, false) => return false,
            }
            return true;
        }
        let auth = match &asked.hello {
            None => req.clone(),
            Some(_) => {
                let mut args: Vec<&[u8]> = vec![b"AUTH".as_slice()];
                args.extend(asked.user.as_deref());
                args.push(&asked.pass);
                Request::from_args(args)
            }
        };
        let creds = (!own).then(|| Arc::new(Credentials::new(asked.user, asked.pass)));
        let mut unit = Unit::new(auth, Target::Any, true);
        unit.via = Via::Lease(None);
        unit.rare().then.auth = Some(AuthThen {
            creds,
            hello: asked.hello,
        });
        let seq = self.next_seq();
        if self.entries.is_empty() {
            self.private.verifying = Some((seq, true));
            self.push_unit(Entry::One(unit), table);
        } else {
            // Sent by `start_verifying` once it reaches the head.
            self.private.verifying = Some((seq, false));
            unit.born = self.tick;
            self.entries.push_back(Entry::One(unit));
        }
        true
    }

    /// After the ready prefix was written: sends a waiting pass-through
    /// AUTH once every earlier request is answered, and lifts the barrier
    /// of one answered without a node (its deadline passed).
    pub(super) fn start_verifying(&mut self) {
        match self.private.verifying {
            Some((seq, _)) if seq < self.head_seq => self.private.verifying = None,
            Some((seq, false)) if seq == self.head_seq => {
                self.private.verifying = Some((seq, true));
                let table = self.shared.topology.load();
                self.dispatch(seq, &table);
                // Answered on the spot (no node, no room to park): this runs
                // at the end of a flush, so nothing else would flush it.
                if self.unit(seq).is_some_and(|u| u.reply.is_some()) {
                    self.flush_ready();
                }
            }
            _ => {}
        }
    }

    /// A pass-through AUTH was answered: on `+OK` the client takes the
    /// identity; otherwise the node's error is its reply and nothing changes.
    pub(super) fn auth_done(&mut self, tag: u64, then: AuthThen) {
        self.private.verifying = None;
        let accepted = self
            .unit(tag)
            .and_then(|u| u.reply.as_deref())
            .is_some_and(|r| r.starts_with(b"+OK"));
        if !accepted {
            return;
        }
        self.client.authenticated = true;
        self.client.private = true;
        self.subs.creds.clone_from(&then.creds);
        self.private.switch(then.creds);
        if let Some(hello) = then.hello {
            let table = self.shared.topology.load();
            let mut out = BytesMut::new();
            self.local_answer(Local::Hello, &hello, &table, &mut out);
            if let Some(u) = self.unit(tag) {
                u.reply = Some(out.freeze());
            }
        }
    }

    /// HELLO answered locally, in order.
    fn answer_local_hello(&mut self, hello: &Request, table: &SlotTable) {
        let mut out = BytesMut::new();
        self.local_answer(Local::Hello, hello, table, &mut out);
        self.push_ready(out.freeze());
    }

    /// [`local::answer`] into `out`, with this client's context.
    fn local_answer(&mut self, cmd: Local, req: &Request, table: &SlotTable, out: &mut BytesMut) {
        let shared = Arc::clone(&self.shared);
        let version = shared.topology.backend_version();
        let ctx = local::Context {
            backend_version: version.as_deref().map(String::as_str),
            announce: shared.settings.announce.or(self.client.local_addr),
            table,
            clients: &shared.clients,
            users: &shared.users,
            shared: Some(&shared),
            me: &self.me,
        };
        let _ = local::answer(cmd, req, &mut self.client, &ctx, out);
    }
}

/// `AUTH pass` or `AUTH user pass`.
fn auth_args(req: &Request) -> Option<Asked> {
    let (user, pass) = match req.argc() {
        2 => (None, req.arg_owned(1)?),
        3 => (Some(req.arg_owned(1)?), req.arg_owned(2)?),
        _ => return None,
    };
    Some(Asked {
        user,
        pass,
        hello: None,
    })
}

/// `HELLO 2|3 [AUTH user pass] [SETNAME name]` with its AUTH option;
/// anything else (no AUTH, a bad version or option) is answered locally,
/// with Redis's errors, before any credential is checked.
fn hello_args(req: &Request) -> Option<Asked> {
    if !matches!(req.arg(1), Some(b"2" | b"3")) {
        return None;
    }
    let mut at = None;
    let mut i = 2;
    while let Some(opt) = req.arg(i) {
        let more = req.argc() - i - 1;
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            at = Some(i);
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            i += 2;
        } else {
            return None;
        }
    }
    let at = at?;
    let hello = Request::from_args(
        req.args()
            .enumerate()
            .filter(|(j, _)| !(at..at + 3).contains(j))
            .map(|(_, a)| a),
    );
    Some(Asked {
        user: Some(req.arg_owned(at + 1)?),
        pass: req.arg_owned(at + 2)?,
        hello: Some(hello),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(args: &[&str]) -> Request {
        Request::from_args(args.iter().map(|a| a.as_bytes()))
    }

    #[test]
    fn credentials_are_found_in_auth_and_hello() {
        let a = auth_args(&req(&["AUTH", "pw"])).unwrap();
        assert!(a.user.is_none() && &a.pass[..] == b"pw");
        let a = auth_args(&req(&["AUTH", "ro", "pw"])).unwrap();
        assert_eq!(a.user.as_deref(), Some(&b"ro"[..]));
        assert!(auth_args(&req(&["AUTH"])).is_none());
        let h = hello_args(&req(&["HELLO", "3", "SETNAME", "x", "AUTH", "ro", "pw"])).unwrap();
        assert_eq!(&h.pass[..], b"pw");
        let rest: Vec<&[u8]> = h.hello.as_ref().unwrap().args().collect();
        assert_eq!(rest, [&b"HELLO"[..], b"3", b"SETNAME", b"x"]);
        assert!(hello_args(&req(&["HELLO", "3"])).is_none());
        assert!(hello_args(&req(&["HELLO", "4", "AUTH", "ro", "pw"])).is_none());
        assert!(hello_args(&req(&["HELLO", "3", "AUTH", "ro"])).is_none());
    }
}
