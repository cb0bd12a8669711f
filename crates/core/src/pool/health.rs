//! Health of a pool's servers: a PING probe per server per tick, and the
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
//! Invariant: `live` changes only when ejection is enabled.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::{Ejection, PoolSettings, PoolTiming};
use crate::backend::Prelude;
use crate::cluster::control::ControlConn;

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
        }
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
                Some(at) if up && now.duration_since(at) >= ej.retry_timeout => {
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
        changed.then(|| self.ejected_at.iter().map(Option::is_none).collect())
    }
}

/// Probes every due address at once (connect, authenticate, PING); `None`
/// for the servers not due this tick.
pub async fn probe_all(
    addrs: &[String],
    due: &[bool],
    prelude: &Prelude,
    timing: PoolTiming,
) -> Vec<Option<bool>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, addr) in addrs.iter().enumerate() {
        if !due.get(i).copied().unwrap_or(true) {
            continue;
        }
        let addr = addr.clone();
        let prelude = prelude.clone();
        set.spawn(async move { (i, probe(&addr, &prelude, timing).await) });
    }
    let mut out: Vec<Option<bool>> = due.iter().map(|&d| d.then_some(false)).collect();
    out.resize(addrs.len(), Some(false));
    while let Some(done) = set.join_next().await {
        if let Ok((i, ok)) = done
            && let Some(slot) = out.get_mut(i)
        {
            *slot = Some(ok);
        }
    }
    out
}

async fn probe(addr: &str, prelude: &Prelude, timing: PoolTiming) -> bool {
    let attempt = async {
        let mut conn = ControlConn::connect_tls(
            addr,
            prelude.tls(),
            timing.connect_timeout,
            timing.query_timeout,
        )
        .await
        .ok()?;
        conn.authenticate(prelude).await.ok()?;
        let reply = conn.query(&[b"PING"]).await.ok()?;
        // LOADING / MASTERDOWN … are errors: not serving yet.
        (!matches!(reply, slotway_resp::Value::Error(_))).then_some(())
    };
    tokio::time::timeout(
        timing.connect_timeout + timing.query_timeout + Duration::from_millis(10),
        attempt,
    )
    .await
    .ok()
    .flatten()
    .is_some()
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
}
