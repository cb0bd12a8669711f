//! Transactions: MULTI / EXEC / DISCARD / WATCH / UNWATCH.
//!
//! MULTI is answered by the proxy, and the commands that follow are checked
//! and queued here (`+QUEUED`), exactly as Redis would queue them: an unknown
//! command, a wrong arity, keys in several slots, or a key on another node
//! than the transaction's first key is refused at queue time and makes EXEC
//! answer `EXECABORT`, as Redis does for a bad queued command. EXEC sends
//! `MULTI`, the queued commands and `EXEC` as one contiguous write, so on a
//! shared connection no other client's command can fall inside the block;
//! the client gets EXEC's reply.
//!
//! WATCH needs the same connection as the EXEC it guards, so it leases a
//! dedicated connection to its keys' node; the transaction then runs there,
//! and the connection goes back to the pool after EXEC, DISCARD or UNWATCH
//! (each of which clears the watches), behind the replies still in flight.

use bytes::{BufMut, Bytes, BytesMut};
use slotway_resp::{ReplyScanner, Request};

use super::queue::{Entry, Queue, Target, Unit, Via, error_bytes};
use crate::cluster::SlotTable;
use crate::route::{Local, Route, Txn as TxnCmd};

const EXECABORT: &[u8] = b"EXECABORT Transaction discarded because of previous errors.";

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Txn {
    queued: Vec<Request>,
    /// The slot of the first key (its owner runs the transaction).
    slot: Option<u16>,
    /// The node the transaction is bound to.
    node: Option<std::sync::Arc<str>>,
    aborted: bool,
}

impl Txn {
    /// Commands queued so far.
    pub fn len(&self) -> usize {
        self.queued.len()
    }
}

impl Queue {
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH outside a transaction.
    pub(super) fn txn_command(&mut self, cmd: TxnCmd, req: Request, table: &SlotTable) {
        // redis-cluster-proxy moves a client to private connections for good
        // at MULTI or WATCH (its PROXY MULTIPLEXING STATUS then says off);
        // the drop-in does the same.
        if self.shared.runtime.rcp_compat() && matches!(cmd, TxnCmd::Multi | TxnCmd::Watch(_)) {
            self.client.private = true;
        }
        match cmd {
            TxnCmd::Multi => {
                let node = self.watch.as_ref().map(|w| w.addr().clone());
                self.txn = Some(Txn {
                    node,
                    ..Txn::default()
                });
                self.push_ready(Bytes::from_static(b"+OK\r\n"));
            }
            TxnCmd::Exec => self.push_error(b"ERR EXEC without MULTI"),
            TxnCmd::Discard => self.push_error(b"ERR DISCARD without MULTI"),
            TxnCmd::Unwatch => self.end_watch(Bytes::from_static(b"+OK\r\n"), table),
            TxnCmd::Watch(slot) => {
                let Some(node) = table.master(slot) else {
                    return self.push_error(b"CLUSTERDOWN Hash slot not served");
                };
                match &self.watch {
                    Some(w) if w.addr() != node.addr() => {
                        return self.push_error(
                            b"ERR slotway: all WATCHed keys of a transaction must live on one node",
                        );
                    }
                    Some(_) => {}
                    None => self.watch = Some(self.private.lease(node, self.client.protocol)),
                }
                let mut unit = Unit::new(req, Target::Node(node.addr().clone()), true);
                unit.via = Via::Watch;
                self.push_unit(Entry::One(unit), table);
            }
        }
    }

    /// A command while MULTI is open.
    pub(super) fn in_multi(&mut self, req: Request, route: Route, table: &SlotTable) {
        let slot = match route {
            Route::Txn(TxnCmd::Exec) => return self.exec(table),
            Route::Txn(TxnCmd::Discard) => {
                self.txn = None;
                return self.end_watch(Bytes::from_static(b"+OK\r\n"), table);
            }
            Route::Txn(TxnCmd::Multi) => {
                return self.push_error(b"ERR MULTI calls can not be nested");
            }
            Route::Txn(TxnCmd::Watch(_)) => {
                return self.push_error(b"ERR WATCH inside MULTI is not allowed");
            }
            Route::Txn(TxnCmd::Unwatch) => None,
            Route::Reject(reject) => return self.abort_txn(&reject.message(&req)),
            Route::Local(Local::Ping | Local::Echo) => None,
            Route::Forward(fwd) | Route::Blocking(fwd) => fwd.slot,
            Route::Split { .. } => {
                return self.abort_txn(b"CROSSSLOT Keys in request don't hash to the same slot");
            }
            Route::Local(_)
            | Route::Fanout { .. }
            | Route::Scan
            | Route::PubSub(_)
            | Route::Wait => {
                let mut msg = b"ERR slotway: '".to_vec();
                msg.extend(
                    req.arg(0)
                        .unwrap_or_default()
                        .iter()
                        .map(u8::to_ascii_lowercase),
                );
                msg.extend_from_slice(b"' cannot be part of a transaction through the proxy");
                return self.abort_txn(&msg);
            }
        };
        if let Some(slot) = slot {
            let owner = table.master(slot).map(|n| n.addr().clone());
            let Some(txn) = self.txn.as_mut() else {
                return;
            };
            match (&txn.node, owner) {
                (_, None) => return self.abort_txn(b"CLUSTERDOWN Hash slot not served"),
                (Some(bound), Some(owner)) if *bound != owner => {
                    return self.abort_txn(
                        b"ERR slotway: this key lives on another node than the transaction's first key; a transaction runs on one node",
                    );
                }
                (Some(_), Some(_)) => {}
                (None, Some(owner)) => txn.node = Some(owner),
            }
            txn.slot.get_or_insert(slot);
        }
        if let Some(txn) = self.txn.as_mut() {
            txn.queued.push(req);
        }
        self.push_ready(Bytes::from_static(b"+QUEUED\r\n"));
    }

    /// Refuses a queued command: EXEC will answer EXECABORT.
    pub(super) fn abort_txn(&mut self, msg: &[u8]) {
        if let Some(txn) = self.txn.as_mut() {
            txn.aborted = true;
        }
        self.push_error(msg);
    }

    fn exec(&mut self, table: &SlotTable) {
        let Some(txn) = self.txn.take() else {
            return;
        };
        if txn.aborted {
            return self.end_watch(error_bytes(EXECABORT), table);
        }
        let mut blob = BytesMut::new();
        blob.put_slice(b"*1\r\n$5\r\nMULTI\r\n");
        for req in &txn.queued {
            blob.put_slice(req.raw());
        }
        blob.put_slice(b"*1\r\n$4\r\nEXEC\r\n");
        let target = match (&self.watch, txn.slot) {
            (Some(w), _) => Target::Node(w.addr().clone()),
            (None, Some(slot)) => Target::Slot(slot),
            (None, None) => Target::Any,
        };
        let mut unit = Unit::new(Request::from_args([b"EXEC"]), target, false);
        unit.rare().blob = Some(blob.freeze());
        unit.frames = u32::try_from(txn.queued.len() + 2).unwrap_or(u32::MAX);
        if self.watch.is_some() {
            unit.via = Via::Watch;
            unit.rare().then.release_watch = true;
        }
        self.push_unit(Entry::One(unit), table);
    }

    /// Ends a WATCH (EXEC aborted, DISCARD, UNWATCH): an UNWATCH on the WATCH
    /// connection, after which it goes back to the pool, and `reply` for
    /// the client. Without a WATCH, just `reply`.
    fn end_watch(&mut self, reply: Bytes, table: &SlotTable) {
        let Some(addr) = self.watch.as_ref().map(|w| w.addr().clone()) else {
            return self.push_ready(reply);
        };
        let mut unit = Unit::new(Request::from_args([b"UNWATCH"]), Target::Node(addr), true);
        unit.via = Via::Watch;
        let then = &mut unit.rare().then;
        then.release_watch = true;
        then.replace = Some(reply);
        self.push_unit(Entry::One(unit), table);
    }
}

/// Splits a MULTI … EXEC block's reply: the first redirect among the queued
/// commands' replies (if the block went to the wrong node), and EXEC's reply.
pub fn block_outcome(block: &Bytes) -> (Option<Bytes>, Bytes) {
    let mut scanner = ReplyScanner::new();
    let mut pos = 0;
    let mut redirect = None;
    let mut last = block.clone();
    while let Some(rest) = block.get(pos..).filter(|r| !r.is_empty()) {
        let Ok(Some(info)) = scanner.scan(rest) else {
            break;
        };
        let frame = block.slice(pos..pos + info.len);
        if redirect.is_none()
            && matches!(
                crate::route::redirect(&frame),
                Some(crate::route::Redirect::Moved { .. } | crate::route::Redirect::Ask { .. })
            )
        {
            redirect = Some(frame.clone());
        }
        last = frame;
        pos += info.len;
    }
    (redirect, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_outcome_takes_exec_reply_and_first_redirect() {
        let ok = Bytes::from_static(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\nv\r\n");
        let (r, last) = block_outcome(&ok);
        assert!(r.is_none());
        assert_eq!(&last[..], b"*2\r\n+OK\r\n$1\r\nv\r\n");
        let moved = Bytes::from_static(
            b"+OK\r\n-MOVED 12 127.0.0.1:7002\r\n+QUEUED\r\n-EXECABORT Transaction discarded because of previous errors.\r\n",
        );
        let (r, last) = block_outcome(&moved);
        assert_eq!(r.as_deref(), Some(&b"-MOVED 12 127.0.0.1:7002\r\n"[..]));
        assert!(last.starts_with(b"-EXECABORT"));
    }
}
