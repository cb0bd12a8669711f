//! The proxy's own clients, for CLIENT LIST / INFO / KILL: a registry of
//! live sessions with the few facts those commands show.
//!
//! Sessions register on connect and leave on disconnect (a drop guard). The
//! facts that change (name, library, protocol, flags) are written only by
//! the commands that change them; the idle clock and the query buffer's
//! size (CLIENT LIST `qbuf`, `qbuf-free`, `rbs`, `rbp`) are noted once per
//! read, never per request. Killing a client rings its session's bell: the
//! session closes the connection at once, as Redis does. Shutdown rings
//! every bell; CLIENT UNPAUSE rings every bell too, so held requests go.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::backend::{ReplySink, ring};

/// What CLIENT LIST shows of a client that changes over its life.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// CLIENT SETNAME.
    pub name: String,
    /// CLIENT SETINFO LIB-NAME / LIB-VER.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// 2 or 3.
    pub resp: u8,
    /// READONLY was sent.
    pub readonly: bool,
    /// Inside MULTI (number of queued commands), `None` otherwise.
    pub multi: Option<usize>,
    /// Channel, pattern and shard-channel subscriptions.
    pub sub: usize,
    /// Pattern subscriptions.
    pub psub: usize,
    /// Shard-channel subscriptions.
    pub ssub: usize,
    /// The user it runs as, once its session recorded it (at connect,
    /// AUTH, HELLO AUTH, RESET): what a users reload compares.
    pub user: Option<Arc<crate::acl::User>>,
}

/// A client as the admin API shows it (the facts of CLIENT LIST).
#[derive(Clone, Debug)]
pub struct ClientSnapshot {
    /// Client id.
    pub id: u64,
    /// Peer address.
    pub addr: Option<SocketAddr>,
    /// Proxy address it connected to.
    pub laddr: Option<SocketAddr>,
    /// Seconds connected.
    pub age_secs: u64,
    /// Seconds since it last sent anything.
    pub idle_secs: u64,
    /// Changing facts.
    pub facts: Facts,
}

/// One live client.
#[derive(Debug)]
pub struct Client {
    /// Client id.
    pub id: u64,
    /// Peer address.
    pub addr: Option<SocketAddr>,
    /// Proxy address it connected to.
    pub laddr: Option<SocketAddr>,
    created: Instant,
    /// Milliseconds after `created` of its last read.
    last_active_ms: AtomicU64,
    /// The query buffer after its last read: unparsed bytes (high half)
    /// and capacity (low half), each saturated at `u32::MAX`.
    query_buffer: AtomicU64,
    /// The largest capacity since the buffer was last given back.
    read_peak: AtomicU64,
    /// Changing facts.
    pub facts: Mutex<Facts>,
    /// The session's mailbox, whose bell kill and shutdown ring.
    sink: Arc<ReplySink>,
}

impl Client {
    /// Closes the client's connection at once (CLIENT KILL).
    pub fn kill(&self) {
        self.sink.ring(ring::KILL);
    }

    /// Records activity at `now` (once per read; the caller's clock read
    /// also times the requests that read brought).
    pub fn touch_at(&self, now: Instant) {
        let age = now.saturating_duration_since(self.created);
        let ms = age.as_secs().saturating_mul(1000) + u64::from(age.subsec_millis());
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    /// Records the query buffer's unparsed bytes and capacity (after a
    /// read, and when an idle session gives its buffer back).
    pub fn note_query_buffer(&self, unparsed: usize, capacity: usize, peak: usize) {
        let half = |n: usize| u64::from(u32::try_from(n).unwrap_or(u32::MAX));
        let packed = (half(unparsed) << 32) | half(capacity);
        self.query_buffer.store(packed, Ordering::Relaxed);
        self.read_peak.store(half(peak), Ordering::Relaxed);
    }

    /// `(qbuf, qbuf-free, rbs, rbp)` as CLIENT LIST shows them.
    fn query_buffer(&self) -> (u64, u64, u64, u64) {
        let packed = self.query_buffer.load(Ordering::Relaxed);
        let (unparsed, capacity) = (packed >> 32, packed & u64::from(u32::MAX));
        let peak = self.read_peak.load(Ordering::Relaxed).max(capacity);
        (unparsed, capacity.saturating_sub(unparsed), capacity, peak)
    }

    /// What the admin API shows of this client.
    #[must_use]
    pub fn snapshot(&self) -> ClientSnapshot {
        let elapsed = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
        ClientSnapshot {
            id: self.id,
            addr: self.addr,
            laddr: self.laddr,
            age_secs: elapsed / 1000,
            idle_secs: elapsed.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000,
            facts: self.facts.lock().clone(),
        }
    }

    /// The CLIENT LIST line of this client (without the newline).
    #[must_use]
    pub fn line(&self, current_cmd: &str) -> String {
        let f = self.facts.lock().clone();
        let age = self.created.elapsed().as_secs();
        let idle_ms = u64::try_from(self.created.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_sub(self.last_active_ms.load(Ordering::Relaxed));
        let mut flags = String::new();
        if f.readonly {
            flags.push('r');
        }
        if f.multi.is_some() {
            flags.push('x');
        }
        if f.sub + f.psub + f.ssub > 0 {
            flags.push('P');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let show = |a: Option<SocketAddr>| a.map_or_else(String::new, |a| a.to_string());
        let (qbuf, qbuf_free, rbs, rbp) = self.query_buffer();
        let mut line = String::with_capacity(256);
        let _ = write!(
            line,
            "id={} addr={} laddr={} fd=-1 name={} age={age} idle={} flags={flags} db=0 sub={} psub={} ssub={} multi={} qbuf={qbuf} qbuf-free={qbuf_free} argv-mem=0 multi-mem=0 rbs={rbs} rbp={rbp} obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={current_cmd} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            show(self.addr),
            show(self.laddr),
            f.name,
            idle_ms / 1000,
            f.sub,
            f.psub,
            f.ssub,
            f.multi.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            f.user.as_ref().map_or("default", |u| u.name()),
            if f.resp == 3 { 3 } else { 2 },
            f.lib_name,
            f.lib_ver,
        );
        line
    }
}

/// Every live client of the proxy.
#[derive(Debug, Default)]
pub struct Registry {
    clients: Mutex<HashMap<u64, Arc<Client>>>,
}

impl Registry {
    /// Registers a client whose session reads `sink`; it leaves when the
    /// returned guard drops.
    pub fn join(
        self: &Arc<Self>,
        id: u64,
        addr: Option<SocketAddr>,
        laddr: Option<SocketAddr>,
        sink: Arc<ReplySink>,
    ) -> Membership {
        let client = Arc::new(Client {
            id,
            addr,
            laddr,
            created: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            query_buffer: AtomicU64::new(0),
            read_peak: AtomicU64::new(0),
            facts: Mutex::new(Facts {
                resp: 2,
                ..Facts::default()
            }),
            sink,
        });
        self.clients.lock().insert(id, client.clone());
        Membership {
            registry: self.clone(),
            client,
        }
    }

    /// Every client, in id order.
    #[must_use]
    pub fn all(&self) -> Vec<Arc<Client>> {
        let mut all: Vec<_> = self.clients.lock().values().cloned().collect();
        all.sort_by_key(|c| c.id);
        all
    }

    /// Rings every client's bell (shutdown). A session that joins after
    /// this checks the shutdown token itself: joining takes the same lock,
    /// so it either is rung here or sees the token cancelled.
    pub fn ring_all(&self, why: u8) {
        for c in self.clients.lock().values() {
            c.sink.ring(why);
        }
    }

    /// Number of connected clients.
    #[must_use]
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// Whether no client is connected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A session's place in the registry.
#[derive(Debug)]
pub struct Membership {
    registry: Arc<Registry>,
    /// The client entry.
    pub client: Arc<Client>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.registry.clients.lock().remove(&self.client.id);
    }
}

impl super::queue::Queue {
    /// Updates what CLIENT LIST shows of this client.
    pub(super) fn sync_facts(&self) {
        let (sub, psub, ssub) = self.subs.counts();
        let mut f = self.me.facts.lock();
        f.name = self
            .client
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        f.lib_name = self
            .client
            .lib_name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        f.lib_ver = self
            .client
            .lib_ver
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        f.resp = if self.client.protocol == slotway_resp::Protocol::Resp3 {
            3
        } else {
            2
        };
        f.readonly = self.client.readonly;
        f.multi = self.txn.as_ref().map(super::txn::Txn::len);
        (f.sub, f.psub, f.ssub) = (sub, psub, ssub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_list_shows_the_query_buffer_of_the_last_read() {
        let registry = Arc::new(Registry::default());
        let member = registry.join(7, None, None, Arc::new(ReplySink::new()));
        let line = member.client.line("get");
        assert!(
            line.contains(" qbuf=0 qbuf-free=0 ") && line.contains(" rbs=0 rbp=0 "),
            "{line}"
        );
        member.client.note_query_buffer(26, 1024, 65536);
        let line = member.client.line("get");
        assert!(line.contains(" qbuf=26 qbuf-free=998 "), "{line}");
        assert!(line.contains(" rbs=1024 rbp=65536 "), "{line}");
        // Sizes past 4 GiB saturate instead of wrapping.
        member.client.note_query_buffer(usize::MAX, usize::MAX, 0);
        let line = member.client.line("get");
        assert!(line.contains(" qbuf=4294967295 qbuf-free=0 "), "{line}");
    }
}
