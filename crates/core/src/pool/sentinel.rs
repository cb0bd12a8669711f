//! Following Redis Sentinel: where each Sentinel-managed server's master
//! is now, and `+switch-master` events as they happen.
//!
//! A server entry whose name is a Sentinel master name (`- 127.0.0.1:6379:1
//! shard1`) keeps its place in the ring — ketama hashes the *name*, so no
//! key moves — while its address follows the master Sentinel reports.
//!
//! Every Sentinel is watched on its own connection (`SUBSCRIBE
//! +switch-master`). Events can be missed while a connection is down, so
//! each (re)connect asks the manager to resolve every master again, and a
//! silent connection is checked with PING. A master is resolved by asking
//! the Sentinels in turn (`SENTINEL get-master-addr-by-name`); the first
//! answer wins.
//!
//! Invariant: an address only changes to one a Sentinel reported.

use std::sync::Arc;
use std::time::Duration;

use slotway_resp::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{PoolSettings, PoolTiming};
use crate::cluster::control::ControlConn;
use crate::error::BackendError;

/// What a watcher tells the pool manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `+switch-master`: master `name` is now at `addr`.
    Switched {
        /// Sentinel master name.
        name: String,
        /// `host:port` of the new master.
        addr: String,
    },
    /// A watcher (re)connected: events may have been missed.
    Resync,
}

/// Quiet time after which a subscription is checked with PING.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// Resolves every Sentinel-managed server's master into `addrs`; returns
/// whether anything changed. Servers no Sentinel knows keep their address.
pub async fn resolve_all(pool: &PoolSettings, addrs: &mut [String], timing: PoolTiming) -> bool {
    let mut changed = false;
    for (i, server) in pool.servers.iter().enumerate() {
        let Some(name) = &server.sentinel_name else {
            continue;
        };
        match resolve(pool, name, timing).await {
            Some(addr) => {
                if let Some(slot) = addrs.get_mut(i)
                    && *slot != addr
                {
                    info!(pool = %pool.name, server = %server.name, from = %slot, to = %addr, "master address from Sentinel");
                    *slot = addr;
                    changed = true;
                }
            }
            None => debug!(pool = %pool.name, master = %name, "no Sentinel knows this master"),
        }
    }
    changed
}

/// The current address of master `name`, from the first Sentinel that knows.
async fn resolve(pool: &PoolSettings, name: &str, timing: PoolTiming) -> Option<String> {
    for sentinel in &pool.sentinels {
        match ask(sentinel, pool, name, timing).await {
            Ok(Some(addr)) => return Some(addr),
            Ok(None) => {}
            Err(e) => debug!(error = %e, "Sentinel query failed"),
        }
    }
    None
}

/// A connection to a Sentinel: TLS when `sentinel_tls` (the backends' TLS
/// settings), then its credentials.
async fn connect(
    sentinel: &str,
    pool: &PoolSettings,
    timing: PoolTiming,
) -> Result<ControlConn, BackendError> {
    let tls = pool.sentinel_prelude.tls();
    let mut conn =
        ControlConn::connect_tls(sentinel, tls, timing.connect_timeout, timing.query_timeout)
            .await?;
    conn.authenticate(&pool.sentinel_prelude).await?;
    Ok(conn)
}

async fn ask(
    sentinel: &str,
    pool: &PoolSettings,
    name: &str,
    timing: PoolTiming,
) -> Result<Option<String>, BackendError> {
    let mut conn = connect(sentinel, pool, timing).await?;
    let reply = conn
        .query(&[b"SENTINEL", b"get-master-addr-by-name", name.as_bytes()])
        .await?;
    Ok(reply.as_array().and_then(|parts| match parts {
        [host, port] => Some(format!("{}:{}", host.as_str()?, port.as_str()?)),
        _ => None,
    }))
}

/// `<name> <old-ip> <old-port> <new-ip> <new-port>` → (name, new address).
#[must_use]
pub fn parse_switch(payload: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = payload.split_whitespace().collect();
    match parts.as_slice() {
        [name, _, _, ip, port] => {
            port.parse::<u16>().ok()?;
            Some(((*name).to_owned(), format!("{ip}:{port}")))
        }
        _ => None,
    }
}

/// Watches one Sentinel until `stop`: reconnects with back-off forever.
pub async fn watch(
    sentinel: String,
    pool: Arc<PoolSettings>,
    timing: PoolTiming,
    events: UnboundedSender<Event>,
    stop: CancellationToken,
) {
    let mut failures: u32 = 0;
    loop {
        let result = tokio::select! {
            () = stop.cancelled() => return,
            r = subscribed(&sentinel, &pool, timing, &events, &mut failures) => r,
        };
        if let Err(e) = result {
            if failures == 0 {
                warn!(pool = %pool.name, %sentinel, error = %e, "Sentinel connection lost; reconnecting");
            }
            failures = failures.saturating_add(1);
        }
        if events.is_closed() {
            return;
        }
        let delay = Duration::from_millis(100)
            .saturating_mul(1 << failures.min(5))
            .min(Duration::from_secs(2));
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

async fn subscribed(
    sentinel: &str,
    pool: &PoolSettings,
    timing: PoolTiming,
    events: &UnboundedSender<Event>,
    failures: &mut u32,
) -> Result<(), BackendError> {
    let mut conn = connect(sentinel, pool, timing).await?;
    let confirm = conn.query(&[b"SUBSCRIBE", b"+switch-master"]).await?;
    if let Value::Error(e) = confirm {
        return Err(BackendError::Reply {
            addr: sentinel.to_owned(),
            reason: String::from_utf8_lossy(&e).into_owned(),
        });
    }
    *failures = 0;
    debug!(pool = %pool.name, %sentinel, "watching Sentinel");
    // Anything may have happened while this watcher was not subscribed.
    let _ = events.send(Event::Resync);
    loop {
        let value = match conn.next_pushed(IDLE_CHECK).await {
            Ok(v) => v,
            // Quiet: prove the connection is alive (PING is allowed while
            // subscribed and answers with a `pong` message).
            Err(BackendError::Timeout { .. }) => conn.query(&[b"PING"]).await?,
            Err(e) => return Err(e),
        };
        let Some([kind, channel, payload]) = value.as_array() else {
            continue;
        };
        if kind.as_str() != Some("message") || channel.as_str() != Some("+switch-master") {
            continue;
        }
        if let Some((name, addr)) = payload.as_str().and_then(parse_switch) {
            let _ = events.send(Event::Switched { name, addr });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_payloads_parse() {
        assert_eq!(
            parse_switch("shard1 127.0.0.1 6379 127.0.0.1 6380"),
            Some(("shard1".into(), "127.0.0.1:6380".into()))
        );
        assert_eq!(parse_switch("shard1 127.0.0.1 6379"), None);
        assert_eq!(parse_switch("s a 1 b notaport"), None);
    }
}
