//! Latency at a fixed, moderate request rate: an open-loop load generator.
//!
//! Owns its connections and threads (one blocking connection per thread).
//! Invariants: each connection sends at scheduled times (`start + offset +
//! k × interval`) and a request's latency is measured from its *scheduled*
//! time, not from when it was actually sent, so a stall shows up in every
//! request it delays (no coordinated omission); every loop is bounded by a
//! request count and a deadline, every socket operation by a timeout; an
//! error reply fails the run rather than being counted as fast.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::targets::Target;

/// Bound of each connect / write / read.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Every thread starts its schedule at the same instant, this far ahead.
const START_DELAY: Duration = Duration::from_millis(200);

/// The load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Connections (one thread each).
    pub conns: usize,
    /// Requests per second, all connections together.
    pub rate: u64,
    pub secs: f64,
    /// Bytes per SET value.
    pub data_size: usize,
}

impl Load {
    /// Requests each connection sends.
    pub fn per_conn(&self) -> u64 {
        ((self.rate as f64 * self.secs) / self.conns.max(1) as f64).round() as u64
    }

    /// Time between two sends on one connection.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.conns as f64 / self.rate.max(1) as f64)
    }
}

/// The nearest-rank `p`-th percentile (0 < p <= 100) of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    // The epsilon keeps 99.9% of 1000 at rank 999 despite float rounding.
    let rank = (p / 100.0 * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

/// Latency figures of one run, µs.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub target: Target,
    pub requests: usize,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// Requests sent later than 1 ms after their scheduled time (the
    /// generator or the target fell behind).
    pub late: usize,
}

/// Summary of latency samples in µs (sorted here). `late` counts samples
/// whose send was behind schedule.
pub fn summarize(target: Target, mut samples: Vec<u64>, late: usize) -> Option<Summary> {
    samples.sort_unstable();
    Some(Summary {
        target,
        requests: samples.len(),
        p50: percentile(&samples, 50.0)?,
        p99: percentile(&samples, 99.0)?,
        p999: percentile(&samples, 99.9)?,
        max: *samples.last()?,
        late,
    })
}

/// Appends the RESP of `SET key value` or `GET key` to `buf`.
pub fn encode(buf: &mut Vec<u8>, set: bool, key: &str, value: &[u8]) {
    let arg = |buf: &mut Vec<u8>, a: &[u8]| {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    };
    if set {
        buf.extend_from_slice(b"*3\r\n");
        arg(buf, b"SET");
        arg(buf, key.as_bytes());
        arg(buf, value);
    } else {
        buf.extend_from_slice(b"*2\r\n");
        arg(buf, b"GET");
        arg(buf, key.as_bytes());
    }
}

/// Reads one simple, integer or bulk reply (what SET and GET answer).
fn read_reply(r: &mut impl BufRead, line: &mut Vec<u8>, body: &mut Vec<u8>) -> Result<()> {
    line.clear();
    r.read_until(b'\n', line).context("read reply")?;
    match line.first() {
        Some(b'+' | b':') => Ok(()),
        Some(b'$') => {
            let text = std::str::from_utf8(line.get(1..).unwrap_or_default())
                .context("bulk header")?
                .trim();
            let len: i64 = text.parse().context("bulk length")?;
            if len >= 0 {
                body.resize(usize::try_from(len).unwrap_or(0) + 2, 0);
                r.read_exact(body).context("read bulk")?;
            }
            Ok(())
        }
        _ => bail!(
            "unexpected reply `{}`",
            String::from_utf8_lossy(line).trim()
        ),
    }
}

/// One connection's schedule. Returns (latencies µs, late sends).
fn drive(
    port: u16,
    load: Load,
    keys: &[String],
    index: usize,
    start: Instant,
    deadline: Instant,
) -> Result<(Vec<u64>, usize)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).context("connect")?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut writer = stream.try_clone().context("clone socket")?;
    let mut reader = BufReader::new(stream);
    let count = load.per_conn();
    let interval = load.interval();
    // Spread the connections' sends evenly over one interval.
    let offset = interval.mul_f64(index as f64 / load.conns.max(1) as f64);
    let value = vec![b'x'; load.data_size];
    let mut samples = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let (mut buf, mut line, mut body) = (Vec::new(), Vec::new(), Vec::new());
    let mut late = 0;
    for k in 0..count {
        let due = start + offset + interval.mul_f64(k as f64);
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if due > now {
            thread::sleep(due - now);
        } else if now - due > Duration::from_millis(1) {
            late += 1;
        }
        // SET then GET of the same key, alternating.
        let key = keys
            .get((index * 7919 + (k / 2) as usize) % keys.len().max(1))
            .context("no keys")?;
        buf.clear();
        encode(&mut buf, k % 2 == 0, key, &value);
        writer.write_all(&buf).context("send")?;
        read_reply(&mut reader, &mut line, &mut body)?;
        samples.push(u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    Ok((samples, late))
}

/// Runs `load` against `port` and summarizes it.
pub fn run(target: Target, port: u16, load: Load, keys: &[String]) -> Result<Summary> {
    let start = Instant::now() + START_DELAY;
    // Twice the planned length plus slack: a target that cannot keep up
    // still ends, with fewer samples.
    let deadline = start + Duration::from_secs_f64(load.secs * 2.0 + 5.0);
    let results: Vec<Result<(Vec<u64>, usize)>> = thread::scope(|s| {
        let handles: Vec<_> = (0..load.conns)
            .map(|i| s.spawn(move || drive(port, load, keys, i, start, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("load thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::new();
    let mut late = 0;
    for r in results {
        let (samples, l) = r.with_context(|| format!("latency run against {}", target.name()))?;
        all.extend(samples);
        late += l;
    }
    summarize(target, all, late).with_context(|| format!("{}: no samples", target.name()))
}

/// The latency table; added latency is over the direct run on the same
/// kind of servers.
pub fn table(rows: &[Summary]) -> Vec<String> {
    let mut out = vec![
        "| target | requests | p50 µs | p99 µs | p99.9 µs | max µs | added p50 | added p99 | \
         added p99.9 | sent >1 ms late |"
            .to_string(),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for r in rows {
        let base = rows
            .iter()
            .find(|b| b.target == r.target.baseline() && r.target.is_proxy());
        let added = |f: fn(&Summary) -> u64| {
            base.map_or("-".to_string(), |b| {
                format!("{:+}", f(r) as i64 - f(b) as i64)
            })
        };
        out.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.target.name(),
            r.requests,
            r.p50,
            r.p99,
            r.p999,
            r.max,
            added(|s| s.p50),
            added(|s| s.p99),
            added(|s| s.p999),
            r.late
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 50.0), Some(500));
        assert_eq!(percentile(&v, 99.0), Some(990));
        assert_eq!(percentile(&v, 99.9), Some(999));
        assert_eq!(percentile(&v, 100.0), Some(1000));
        assert_eq!(percentile(&[7], 99.9), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&v, 0.0), None);
        assert_eq!(percentile(&v, f64::NAN), None);
        let s = summarize(Target::Nutcracker, vec![5, 1, 9, 3], 2).unwrap();
        assert_eq!((s.p50, s.p99, s.p999, s.max, s.late), (3, 9, 9, 9, 2));
        assert!(summarize(Target::Nutcracker, Vec::new(), 0).is_none());
    }

    #[test]
    fn schedules_and_encodes() {
        let load = Load {
            conns: 20,
            rate: 20_000,
            secs: 5.0,
            data_size: 64,
        };
        assert_eq!(load.per_conn(), 5000);
        assert_eq!(load.interval(), Duration::from_millis(1));
        let mut b = Vec::new();
        encode(&mut b, true, "k", b"vv");
        encode(&mut b, false, "k", b"vv");
        assert_eq!(
            b,
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        );
        let mut r = &b"+OK\r\n$-1\r\n$3\r\nabc\r\n:1\r\n-ERR x\r\n"[..];
        let (mut l, mut body) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            read_reply(&mut r, &mut l, &mut body).unwrap();
        }
        assert!(read_reply(&mut r, &mut l, &mut body).is_err());
    }

    #[test]
    fn renders_added_latency() {
        let s = |target, p50| Summary {
            target,
            requests: 100,
            p50,
            p99: p50 * 2,
            p999: p50 * 3,
            max: p50 * 4,
            late: 0,
        };
        let t = table(&[s(Target::StandaloneDirect, 50), s(Target::SlotwayPool, 80)]);
        assert_eq!(
            t[2],
            "| standalone direct | 100 | 50 | 100 | 150 | 200 | - | - | - | 0 |"
        );
        assert_eq!(
            t[3],
            "| slotway pool | 100 | 80 | 160 | 240 | 320 | +30 | +60 | +90 | 0 |"
        );
    }
}
