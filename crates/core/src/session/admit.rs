//! Admission of one parsed request, before it is routed: the command gate
//! (`[commands]` deny/rename), authentication (NOAUTH), the user's ACL
//! (NOPERM), and CLIENT REPLY's silencing.
//!
//! Invariant: the checks run in Redis's order — unknown command, arity, a
//! denied command, NOAUTH, NOPERM — and a refused command inside MULTI aborts
//! the transaction, as any error found while queueing does.

use bytes::Bytes;
use slotway_resp::Request;

use super::queue::{Queue, ReplyMode};
use crate::cluster::SlotTable;
use crate::route::{self, Route};

impl Queue {
    /// Handles one request, writing its reply unless CLIENT REPLY says not to.
    pub(super) fn handle_request(&mut self, req: Request, table: &SlotTable) {
        match self.gated_route(&req, table) {
            (Some(original), route) => self.admit(original, route, table),
            (None, route) => self.admit(req, route, table),
        }
    }

    /// [`Self::handle_request`] once the request is routed.
    fn admit(&mut self, req: Request, route: Route, table: &SlotTable) {
        if self.shared.runtime.dump_queries() {
            super::proxy_config::dump_query(self.client.id, &req);
        }
        // Redis checks the command itself first, then authentication: only
        // AUTH, HELLO, QUIT and RESET (the `no_auth` commands) pass before it.
        if !self.client.authenticated
            && !matches!(route, Route::Reject(_))
            && !req
                .arg(0)
                .and_then(slotway_command::lookup)
                .is_some_and(|spec| spec.has_flag(slotway_command::flags::NO_AUTH))
        {
            return self.push_error(b"NOAUTH Authentication required.");
        }
        // A command the gate made unknown or denied is refused before any
        // ACL check, as Redis refuses its unknown and protected commands.
        let gated = matches!(
            route,
            Route::Reject(route::Reject::UnknownCommand | route::Reject::Denied(_))
        );
        if !gated && let Err(msg) = super::acl_check::check(&self.client.user, &req) {
            crate::stats::bump(&self.shared.stats.client_err, 1);
            // Inside MULTI a refused command aborts the transaction, like
            // any error found while queueing.
            return if self.txn.is_some() {
                self.abort_txn(&msg)
            } else {
                self.push_error(&msg)
            };
        }
        let silent = match (self.reply_mode, route) {
            (_, Route::Local(route::Local::ClientReply)) => {
                return self.client_reply(&req);
            }
            (ReplyMode::On, _) => false,
            (ReplyMode::Off, _) => true,
            (ReplyMode::SkipNext, _) => {
                self.reply_mode = ReplyMode::On;
                true
            }
        };
        if !silent {
            return self.handle(req, route, table);
        }
        // Nothing is moved to the output while a request is handled, so
        // what it adds there, or the entries it adds, are its reply.
        let (out_len, first) = (self.out.tail.len(), self.next_seq());
        self.handle(req, route, table);
        self.out.tail.truncate(out_len);
        self.silenced.extend(first..self.next_seq());
    }

    /// Routes `req` behind the operator's command gate; a request under a
    /// command's new name comes back rewritten to the original name (what
    /// the nodes know). (`req` is borrowed: most requests are not renamed,
    /// and a request is large enough that moving it costs a copy.)
    pub(super) fn gated_route(&self, req: &Request, table: &SlotTable) -> (Option<Request>, Route) {
        let settings = &self.shared.settings;
        // Cross-slot splitting can be switched at runtime (PROXY CONFIG SET
        // enable-cross-slot): one relaxed atomic load.
        let mut policy = settings.policy;
        policy.split_multi_key = self.shared.runtime.cross_slot();
        let gate = route::Gate {
            gate: &settings.commands,
            renamed: false,
        };
        let route = route::route_gated(req, policy, table.keys(), Some(gate));
        // Only a command the table does not know can be a new name.
        if route == Route::Reject(route::Reject::UnknownCommand)
            && let Some(original) = settings.commands.renamed(req)
        {
            let gate = route::Gate {
                renamed: true,
                ..gate
            };
            let route = route::route_gated(&original, policy, table.keys(), Some(gate));
            return (Some(original), route);
        }
        (None, route)
    }

    /// CLIENT REPLY ON|OFF|SKIP: only ON is answered.
    pub(super) fn client_reply(&mut self, req: &Request) {
        let mode = req.arg(2).unwrap_or_default().to_ascii_lowercase();
        match mode.as_slice() {
            b"on" => {
                self.reply_mode = ReplyMode::On;
                self.push_ready(Bytes::from_static(b"+OK\r\n"));
            }
            b"off" => self.reply_mode = ReplyMode::Off,
            b"skip" => {
                if self.reply_mode == ReplyMode::On {
                    self.reply_mode = ReplyMode::SkipNext;
                }
            }
            _ => self.push_error(b"ERR syntax error"),
        }
    }
}
