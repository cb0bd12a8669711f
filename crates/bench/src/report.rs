//! The results table, printed as Markdown.
//!
//! Invariant: formatting only; a value that was not measured (the proxy's
//! CPU in a direct run) is shown as `-`, never as 0. Known measurement
//! artefacts (redis-benchmark's 250 ms timer rounding) are stated, not hidden.

use crate::runner::Mode;

/// One measured run.
#[derive(Debug, Clone)]
pub struct Row {
    /// e.g. `SET -P 16`.
    pub case: String,
    /// Requests in the run (`-n`).
    pub requests: u64,
    pub mode: Mode,
    /// Requests/s reported by redis-benchmark.
    pub rps: f64,
    /// Proxy CPU (user+system) per request, µs; `None` in direct mode.
    pub proxy_us: Option<f64>,
    /// CPU of all redis-servers together per request, µs.
    pub redis_us: f64,
    /// Throughput of the direct run of the same case, for the slotway row.
    pub direct_rps: Option<f64>,
}

impl Row {
    /// Elapsed time as redis-benchmark measured it (`requests / rps`).
    pub fn elapsed_secs(&self) -> f64 {
        if self.rps > 0.0 {
            self.requests as f64 / self.rps
        } else {
            0.0
        }
    }
}

/// redis-benchmark's throughput timer period: with threads (always in
/// `--cluster` mode) a run only ends on this timer, so its elapsed time is
/// rounded up to a multiple of it.
pub const TIMER_SECS: f64 = 0.25;

/// A note on the direct rows' timer rounding, with the worst
/// under-reporting among them (`TIMER_SECS / elapsed`), if there are any.
pub fn quantization_note(rows: &[Row]) -> Option<String> {
    let worst = rows
        .iter()
        .filter(|r| r.mode == Mode::Direct)
        .map(|r| TIMER_SECS / r.elapsed_secs().max(TIMER_SECS))
        .fold(None, |acc: Option<f64>, x| {
            Some(acc.map_or(x, |a| a.max(x)))
        })?;
    Some(format!(
        "Note: direct rows use `redis-benchmark --cluster`, which runs threads and stops only on \
         its 250 ms throughput timer: their elapsed time is rounded up to a multiple of 250 ms, so \
         up to 250 ms of it may be idle waiting (worst here: {:.0}% of a row's elapsed time). \
         Treat direct req/s as a lower bound; raise --requests to shrink the rounding. Slotway rows \
         run single-threaded and stop on the last reply.",
        worst * 100.0
    ))
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// The table as Markdown lines.
pub fn table(rows: &[Row]) -> Vec<String> {
    let mut out = vec![
        "| case | mode | req/s | elapsed s | proxy µs CPU/req | redis µs CPU/req | proxy/redis CPU | req/s vs direct |"
            .to_string(),
        "|---|---|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for r in rows {
        let ratio = r
            .proxy_us
            .filter(|_| r.redis_us > 0.0)
            .map(|p| p / r.redis_us);
        let vs_direct = r.direct_rps.filter(|d| *d > 0.0).map(|d| r.rps / d);
        out.push(format!(
            "| {} | {} | {:.0} | {:.2} | {} | {:.2} | {} | {} |",
            r.case,
            r.mode.name(),
            r.rps,
            r.elapsed_secs(),
            opt(r.proxy_us, 2),
            r.redis_us,
            opt(ratio, 2),
            opt(vs_direct, 2),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rows() {
        let rows = [
            Row {
                case: "SET -P 1".into(),
                requests: 50_000,
                mode: Mode::Direct,
                rps: 100_000.4,
                proxy_us: None,
                redis_us: 5.0,
                direct_rps: None,
            },
            Row {
                case: "SET -P 1".into(),
                requests: 50_000,
                mode: Mode::Slotway,
                rps: 50_000.0,
                proxy_us: Some(10.0),
                redis_us: 4.0,
                direct_rps: Some(100_000.0),
            },
        ];
        let t = table(&rows);
        assert_eq!(
            t[2],
            "| SET -P 1 | direct | 100000 | 0.50 | - | 5.00 | - | - |"
        );
        assert_eq!(
            t[3],
            "| SET -P 1 | slotway | 50000 | 1.00 | 10.00 | 4.00 | 2.50 | 0.50 |"
        );
        let note = quantization_note(&rows).unwrap();
        assert!(note.contains("worst here: 50%"), "{note}");
        assert!(quantization_note(&rows[1..]).is_none());
    }
}
