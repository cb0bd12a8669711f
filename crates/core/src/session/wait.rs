//! WAIT numreplicas timeout, through the proxy.
//!
//! Redis's WAIT counts the writes made on *its own connection*; the proxy's
//! connections are shared, so WAIT cannot simply be forwarded (on a shared
//! connection it would block every client behind it for the timeout; on a
//! fresh one it would count no writes at all). Instead, once every earlier
//! request of the client has been answered, a short task asks each master
//! the client wrote to for its replication offset — which covers the
//! client's writes — and then watches its replicas' acknowledged offsets
//! (`INFO replication`) until `numreplicas` of them have reached it or the
//! timeout passes. It prompts the replicas to report at once (a `WAIT` that
//! cannot be satisfied, on its own connection, makes the master send
//! `REPLCONF GETACK`). The reply is the minimum over those masters, as the
//! issue asks; nothing shared is ever blocked.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use slotway_resp::Value;
use tokio::time::Instant;

use super::queue::{Entry, Queue, WaitEntry};
use crate::backend::{Reply, ReplySink};
use crate::cluster::control::ControlConn;
use slotway_resp::Request;

impl Queue {
    /// WAIT numreplicas timeout.
    pub(super) fn wait(&mut self, req: &Request) {
        let int = |i| req.arg(i).and_then(slotway_resp::num::string2ll);
        let (Some(numreplicas), Some(timeout)) = (int(1), int(2)) else {
            return self.push_error(b"ERR value is not an integer or out of range");
        };
        if timeout < 0 {
            return self.push_error(b"ERR timeout is negative");
        }
        let timeout = u64::try_from(timeout)
            .ok()
            .filter(|&t| t > 0)
            .map(std::time::Duration::from_millis);
        self.entries.push_back(Entry::Wait(WaitEntry {
            numreplicas,
            timeout,
            started: false,
            reply: None,
        }));
    }
}

/// How often replicas' offsets are looked at while waiting.
const POLL: Duration = Duration::from_millis(10);

/// Starts the WAIT; its reply is delivered to `sink` with `tag`. The task
/// ends early if the client goes away (the sink is dropped).
pub fn spawn(
    masters: Vec<Arc<str>>,
    numreplicas: i64,
    timeout: Option<Duration>,
    sink: &Arc<ReplySink>,
    tag: u64,
    prelude: crate::backend::Prelude,
) {
    let sink = Arc::downgrade(sink);
    tokio::spawn(async move {
        // Each deadline is absolute, so waiting for the masters one after
        // another still ends within the client's timeout.
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut least: Option<i64> = None;
        for master in &masters {
            let n = acked_replicas(master, numreplicas, deadline, &sink, &prelude)
                .await
                .unwrap_or(0);
            least = Some(least.map_or(n, |l| l.min(n)));
        }
        if let Some(sink) = sink.upgrade() {
            let reply = Bytes::from(format!(":{}\r\n", least.unwrap_or(0)));
            sink.deliver(tag, Reply::Frame(reply));
        }
    });
}

/// Replicas of `master` whose acknowledged offset reached the master's
/// offset at the start, waiting until `want` do or the deadline passes.
async fn acked_replicas(
    master: &str,
    want: i64,
    deadline: Option<Instant>,
    client: &Weak<ReplySink>,
    prelude: &crate::backend::Prelude,
) -> Option<i64> {
    let io = Duration::from_secs(2);
    let mut conn = ControlConn::connect_tls(master, prelude.tls(), io, io)
        .await
        .ok()?;
    conn.authenticate(prelude).await.ok()?;
    let target = replication(&mut conn).await?.0;
    loop {
        let (_, offsets) = replication(&mut conn).await?;
        let acked = i64::try_from(offsets.iter().filter(|&&o| o >= target).count()).ok()?;
        if acked >= want || deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(acked);
        }
        if client.strong_count() == 0 {
            return None;
        }
        // Ask the replicas to report their offsets now (a WAIT that cannot
        // be met makes the master send REPLCONF GETACK), then look again.
        let ask = (offsets.len() + 1).to_string();
        let poll = POLL.as_millis().to_string();
        conn.query(&[b"WAIT", ask.as_bytes(), poll.as_bytes()])
            .await
            .ok()?;
    }
}

/// The master's replication offset and each replica's acknowledged offset.
async fn replication(conn: &mut ControlConn) -> Option<(i64, Vec<i64>)> {
    let info = conn.query(&[b"INFO", b"replication"]).await.ok()?;
    let text = match &info {
        Value::Error(_) => return None,
        v => String::from_utf8_lossy(v.as_bytes()?).into_owned(),
    };
    Some(parse_replication(&text))
}

/// Parses `master_repl_offset:N` and the `slaveK:...,offset=N,...` lines.
fn parse_replication(text: &str) -> (i64, Vec<i64>) {
    let mut master = 0;
    let mut replicas = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("master_repl_offset:") {
            master = v.trim().parse().unwrap_or(0);
        } else if line.starts_with("slave") && line.contains("offset=") {
            let offset = line
                .split(',')
                .find_map(|kv| kv.strip_prefix("offset="))
                .and_then(|v| v.trim().parse().ok());
            if let Some(o) = offset {
                replicas.push(o);
            }
        }
    }
    (master, replicas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_info_replication() {
        let text = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
                    slave0:ip=127.0.0.1,port=7004,state=online,offset=1500,lag=0\r\n\
                    slave1:ip=127.0.0.1,port=7005,state=online,offset=1200,lag=1\r\n\
                    master_replid:abc\r\nmaster_repl_offset:1500\r\n";
        assert_eq!(parse_replication(text), (1500, vec![1500, 1200]));
        assert_eq!(parse_replication("role:master\r\n"), (0, vec![]));
    }
}
