//! Health of a pool's servers: a PING probe per server per tick, on one
//! connection per server kept from tick to tick ([`ProbeConns`]), and the
//! ejection bookkeeping of `auto_eject_hosts`.
//!
//! Unlike nutcracker, which re-adds an ejected server blindly after
//! `server_retry_timeout` and lets clients' requests discover it is still
//! down (each re-add costing `server_failure_limit` failed requests), an
//! ejected server returns only when the retry timeout has passed *and* a
//! probe succeeded.
//!
//! A failing server is probed less and less often (every tick, then every
//! 2nd, 4th, up to every 8th), so a long-dead server costs little; one
//! success resets it.
//!
//! An operator may eject or restore a server ([`Health::operator`]); a
//! server ejected by an operator stays out until an operator restores it
//! (probes never bring it back), and one restored comes back at once.
//!
//! Invariant: `live` changes only when ejection is enabled.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::status::{Action, ActionError, Board, ServerState, ServerStatus, now_ms};
use super::{Ejection, PoolSettings, PoolTiming};
use crate::backend::Prelude;
use crate::cluster::control::{ControlConn, ask_kept};

/// Per-server health state.
#[derive(Debug)]
pub struct Health {
    failures: Vec<u32>,
    ejected_at: Vec<Option<Instant>>,
    /// Ejections so far (the `server_ejects` stat).
    pub ejects: u64,
    /// Per server, µs since the Unix epoch of its last ejection, 0 if never
    /// (the `server_ejected_at` stat).
    pub ejected_at_us: Vec<u64>,
    /// Per server, ticks to wait before its next probe (back-off).
    wait: Vec<u32>,
    /// Per server, ejected by an operator (only an operator restores it).
    manual: Vec<bool>,
    /// Per server, the reason of its last failed probe.
    last_error: Vec<Option<String>>,
    /// Per server, the state last published and since when (ms).
    since: Vec<(ServerState, u64)>,
}

/// Most ticks a failing server waits between probes.
const MAX_WAIT_TICKS: u32 = 7;

impl Health {
    /// Every server healthy.
    #[must_use]
    pub fn new(servers: usize) -> Self {
        Self {
            failures: vec![0; servers],
            ejected_at: vec![None; servers],
            ejects: 0,
            ejected_at_us: vec![0; servers],
            wait: vec![0; servers],
            manual: vec![false; servers],
            last_error: vec![None; servers],
            since: vec![(ServerState::Up, 0); servers],
        }
    }

    /// Remembers why probes failed (`Some(Err(reason))`), for the admin API.
    pub fn note_errors(&mut self, results: &[Option<Result<(), String>>]) {
        for (slot, r) in self.last_error.iter_mut().zip(results) {
            if let Some(Err(e)) = r {
                *slot = Some(e.clone());
            }
        }
    }

    /// The live set (servers not ejected).
    #[must_use]
    pub fn live(&self) -> Vec<bool> {
        self.ejected_at.iter().map(Option::is_none).collect()
    }

    /// Publishes every server's state on `board` (`addrs`: current
    /// addresses), noting when each state began.
    pub fn publish(&mut self, addrs: &[String], board: &Board) {
        let now = now_ms();
        let mut out = Vec::with_capacity(addrs.len());
        for (i, addr) in addrs.iter().enumerate() {
            let failures = self.failures.get(i).copied().unwrap_or(0);
            let state = if self.ejected_at.get(i).is_some_and(Option::is_some) {
                ServerState::Ejected
            } else if failures > 0 {
                ServerState::Down
            } else {
                ServerState::Up
            };
            let since = match self.since.get_mut(i) {
                Some(slot) if slot.0 != state => {
                    *slot = (state, now);
                    now
                }
                Some(slot) => slot.1,
                None => 0,
            };
            out.push(ServerStatus {
                addr: addr.clone(),
                state,
                since_unix_ms: since,
                last_error: self.last_error.get(i).cloned().flatten(),
                failures,
                by_operator: self.manual.get(i).copied().unwrap_or(false),
            });
        }
        board.publish(out);
    }

    /// An operator's eject or restore of server `i`; returns whether it
    /// changed anything, and the new live set when the placement changes.
    ///
    /// # Errors
    /// Ejecting without `auto_eject_hosts`, or the last live server.
    pub fn operator(
        &mut self,
        i: usize,
        action: Action,
        pool: &PoolSettings,
        addrs: &[String],
        journal: &crate::events::Journal,
    ) -> Result<Option<Vec<bool>>, ActionError> {
        let name = pool.servers.get(i).map_or("?", |s| s.name.as_str());
        let addr = addrs.get(i).map_or("?", String::as_str);
        let (Some(ejected), Some(manual)) = (self.ejected_at.get_mut(i), self.manual.get_mut(i))
        else {
            return Err(ActionError::NoSuchServer(name.to_owned()));
        };
        match action {
            Action::Eject => {
                if pool.ejection.is_none() {
                    return Err(ActionError::NoEjection(pool.name.clone()));
                }
                if ejected.is_some() {
                    // Already out (by its probes): it now stays out until
                    // an operator restores it.
                    *manual = true;
                    return Ok(None);
                }
                let others = self
                    .ejected_at
                    .iter()
                    .enumerate()
                    .filter(|&(j, e)| j != i && e.is_none())
                    .count();
                if others == 0 {
                    return Err(ActionError::LastServer(name.to_owned()));
                }
                if let (Some(e), Some(m)) = (self.ejected_at.get_mut(i), self.manual.get_mut(i)) {
                    *e = Some(Instant::now());
                    *m = true;
                }
                self.ejects += 1;
                if let Some(at) = self.ejected_at_us.get_mut(i) {
                    *at = now_ms().saturating_mul(1000);
                }
                warn!(event = "server_ejected", by = "operator", pool = %pool.name, server = %name, %addr, "server ejected by an operator: its keys move to the other servers");
                journal.record(
                    "server_ejected",
                    format!("pool {}: {name} ({addr}) ejected by an operator", pool.name),
                );
            }
            Action::Restore => {
                *manual = false;
                if ejected.is_none() {
                    return Ok(None);
                }
                *ejected = None;
                if let (Some(f), Some(w)) = (self.failures.get_mut(i), self.wait.get_mut(i)) {
                    *f = 0;
                    *w = 0;
                }
                info!(event = "server_restored", by = "operator", pool = %pool.name, server = %name, %addr, "server restored to the pool by an operator");
                journal.record(
                    "server_restored",
                    format!(
                        "pool {}: {name} ({addr}) restored by an operator",
                        pool.name
                    ),
                );
            }
        }
        Ok(Some(self.live()))
    }

    /// Which servers are probed this tick (the others are backing off);
    /// counts the tick for those waiting.
    pub fn due(&mut self) -> Vec<bool> {
        self.wait
            .iter_mut()
            .map(|w| {
                if *w == 0 {
                    true
                } else {
                    *w -= 1;
                    false
                }
            })
            .collect()
    }

    /// Takes one round of probe results (`None`: not probed this tick);
    /// returns the new live set when it changed (only with ejection on).
    pub fn update(
        &mut self,
        ok: &[Option<bool>],
        ejection: Option<Ejection>,
        pool: &PoolSettings,
        addrs: &[String],
        journal: &crate::events::Journal,
    ) -> Option<Vec<bool>> {
        let mut changed = false;
        let now = Instant::now();
        for (i, &verdict) in ok.iter().enumerate() {
            let manual = self.manual.get(i).copied().unwrap_or(false);
            let (Some(up), Some(failures), Some(ejected), Some(wait)) = (
                verdict,
                self.failures.get_mut(i),
                self.ejected_at.get_mut(i),
                self.wait.get_mut(i),
            ) else {
                continue;
            };
            let name = pool.servers.get(i).map_or("?", |s| s.name.as_str());
            let addr = addrs.get(i).map_or("?", String::as_str);
            if up {
                if *failures > 0 {
                    info!(pool = %pool.name, server = %name, %addr, "server answers again");
                }
                *failures = 0;
                *wait = 0;
            } else {
                *failures = failures.saturating_add(1);
                // 0, 1, 3, 7, 7 … ticks between probes.
                *wait = ((1u32 << (*failures - 1).min(3)) - 1).min(MAX_WAIT_TICKS);
                if *failures == 1 {
                    warn!(pool = %pool.name, server = %name, %addr, "server probe failed");
                }
            }
            let Some(ej) = ejection else {
                continue;
            };
            match *ejected {
                None if *failures >= ej.failure_limit.max(1) => {
                    *ejected = Some(now);
                    self.ejects += 1;
                    if let Some(at) = self.ejected_at_us.get_mut(i) {
                        *at = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
                    }
                    changed = true;
                    warn!(event = "server_ejected", pool = %pool.name, server = %name, %addr, "server ejected: its keys move to the other servers");
                    journal.record(
                        "server_ejected",
                        format!("pool {}: {name} ({addr}) ejected", pool.name),
                    );
                }
                Some(at) if up && !manual && now.duration_since(at) >= ej.retry_timeout => {
                    *ejected = None;
                    changed = true;
                    info!(event = "server_restored", pool = %pool.name, server = %name, %addr, "server restored to the pool");
                    journal.record(
                        "server_restored",
                        format!("pool {}: {name} ({addr}) restored", pool.name),
                    );
                }
                _ => {}
            }
        }
        changed.then(|| self.live())
    }
}

/// The probes' connections, one per server, kept from one probe to the
/// next: a new connection per PING would cost every server a connection
/// per tick per proxy (86,400 a day at the default interval), an AUTH (and
/// with TLS a handshake) each, and leave the proxy a socket in TIME_WAIT
/// for each. A connection is kept only for the address it was opened to
/// (a Sentinel switch moves a server) and only while it answers.
#[derive(Debug, Default)]
pub struct ProbeConns {
    conns: Vec<Option<ControlConn>>,
}

impl ProbeConns {
    /// The kept connection of server `i`, if it is still to `addr`.
    fn take(&mut self, i: usize, addr: &str) -> Option<ControlConn> {
        self.conns
            .get_mut(i)
            .and_then(Option::take)
            .filter(|c| c.addr() == addr)
    }

    fn put(&mut self, i: usize, conn: Option<ControlConn>) {
        if let Some(slot) = self.conns.get_mut(i) {
            *slot = conn;
        }
    }
}

/// Probes every due address at once (PING, on the server's kept connection
/// or a new one, authenticated); `None` for the servers not due this tick,
/// else `Ok` or the failure's reason.
pub async fn probe_all(
    addrs: &[String],
    due: &[bool],
    prelude: &Prelude,
    timing: PoolTiming,
    conns: &mut ProbeConns,
) -> Vec<Option<Result<(), String>>> {
    conns.conns.resize_with(addrs.len(), || None);
    let mut set = tokio::task::JoinSet::new();
    for (i, addr) in addrs.iter().enumerate() {
        if !due.get(i).copied().unwrap_or(true) {
            continue;
        }
        let kept = conns.take(i, addr);
        let addr = addr.clone();
        let prelude = prelude.clone();
        set.spawn(async move {
            let (verdict, conn) = probe(&addr, kept, &prelude, timing).await;
            (i, verdict, conn)
        });
    }
    let lost = || Err("probe task failed".to_owned());
    let mut out: Vec<Option<Result<(), String>>> = due.iter().map(|&d| d.then(lost)).collect();
    out.resize_with(addrs.len(), || Some(lost()));
    while let Some(done) = set.join_next().await {
        if let Ok((i, verdict, conn)) = done
            && let Some(slot) = out.get_mut(i)
        {
            *slot = Some(verdict);
            conns.put(i, conn);
        }
    }
    out
}

/// One probe: PING on `kept`, else (or when the server closed it) on a new
/// connection. Returns the verdict and the connection to keep, if any.
async fn probe(
    addr: &str,
    kept: Option<ControlConn>,
    prelude: &Prelude,
    timing: PoolTiming,
) -> (Result<(), String>, Option<ControlConn>) {
    let asked = ask_kept(
        addr,
        kept,
        prelude,
        timing.connect_timeout,
        timing.query_timeout,
        |conn| Box::pin(conn.query(&[b"PING"])),
    );
    match tokio::time::timeout(
        timing.connect_timeout + timing.query_timeout + Duration::from_millis(10),
        asked,
    )
    .await
    {
        Ok(Ok((reply, conn))) => keep_if_serving(reply, conn),
        Ok(Err(e)) => (Err(e.to_string()), None),
        Err(_) => (Err("probe timed out".to_owned()), None),
    }
}

/// A PING's reply: LOADING, MASTERDOWN, NOAUTH … are errors (not serving
/// yet). The connection is kept only while the server serves: the next
/// probe of a failing server connects and authenticates afresh.
fn keep_if_serving(
    reply: slotway_resp::Value,
    conn: ControlConn,
) -> (Result<(), String>, Option<ControlConn>) {
    match reply {
        slotway_resp::Value::Error(e) => (Err(String::from_utf8_lossy(&e).into_owned()), None),
        _ => (Ok(()), Some(conn)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use slotway_hashkit::twemproxy::{Distribution, Hash, ServerEntry};

    #[test]
    fn a_failing_server_is_probed_less_and_less_often() {
        let entry = ServerEntry::parse("127.0.0.1:1:1").unwrap();
        let pool = PoolSettings::new(
            "p",
            vec![super::super::PoolServer::from_entry(&entry)],
            Hash::Murmur,
            None,
            Distribution::Ketama,
        )
        .unwrap();
        let journal = crate::events::Journal::default();
        let addrs = vec!["127.0.0.1:1".to_owned()];
        let mut h = Health::new(1);
        let mut probed_at = Vec::new();
        for tick in 0..30 {
            let due = h.due();
            let verdict: Vec<Option<bool>> = due.iter().map(|&d| d.then_some(false)).collect();
            if due.first() == Some(&true) {
                probed_at.push(tick);
            }
            h.update(&verdict, None, &pool, &addrs, &journal);
        }
        assert_eq!(probed_at, vec![0, 1, 3, 7, 15, 23]);
        // One success and it is probed every tick again.
        h.update(&[Some(true)], None, &pool, &addrs, &journal);
        assert_eq!(h.due(), vec![true]);
    }

    #[test]
    fn an_operator_ejection_holds_until_an_operator_restores() {
        let servers = ["127.0.0.1:1:1", "127.0.0.1:2:1", "127.0.0.1:3:1"]
            .iter()
            .map(|e| super::super::PoolServer::from_entry(&ServerEntry::parse(e).unwrap()))
            .collect();
        let mut pool =
            PoolSettings::new("p", servers, Hash::Murmur, None, Distribution::Ketama).unwrap();
        let journal = crate::events::Journal::default();
        let addrs: Vec<String> = (1..=3).map(|p| format!("127.0.0.1:{p}")).collect();
        let mut h = Health::new(3);
        // No auto_eject_hosts: refused, nothing changes.
        assert_eq!(
            h.operator(1, Action::Eject, &pool, &addrs, &journal),
            Err(ActionError::NoEjection("p".to_owned()))
        );
        let ejection = Ejection {
            failure_limit: 2,
            retry_timeout: Duration::ZERO,
        };
        pool.ejection = Some(ejection);
        assert_eq!(
            h.operator(1, Action::Eject, &pool, &addrs, &journal),
            Ok(Some(vec![true, false, true]))
        );
        assert_eq!(h.ejects, 1);
        // Already out: no change.
        assert_eq!(
            h.operator(1, Action::Eject, &pool, &addrs, &journal),
            Ok(None)
        );
        // Its probes succeed, the retry timeout has passed: still out.
        for _ in 0..5 {
            let up = [Some(true), Some(true), Some(true)];
            assert_eq!(h.update(&up, Some(ejection), &pool, &addrs, &journal), None);
        }
        let board = Board::default();
        h.publish(&addrs, &board);
        let s = board.snapshot();
        assert_eq!(s[1].state, ServerState::Ejected);
        assert!(s[1].by_operator);
        // The last live server cannot go.
        assert!(
            h.operator(0, Action::Eject, &pool, &addrs, &journal)
                .is_ok()
        );
        assert_eq!(
            h.operator(2, Action::Eject, &pool, &addrs, &journal),
            Err(ActionError::LastServer("127.0.0.1:3".to_owned()))
        );
        // Restored at once; restoring again changes nothing.
        assert_eq!(
            h.operator(1, Action::Restore, &pool, &addrs, &journal),
            Ok(Some(vec![false, true, true]))
        );
        assert_eq!(
            h.operator(1, Action::Restore, &pool, &addrs, &journal),
            Ok(None)
        );
        let kinds: Vec<_> = journal.recent().iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            ["server_ejected", "server_ejected", "server_restored"]
        );
    }
}
