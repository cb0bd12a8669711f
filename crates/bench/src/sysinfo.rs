//! Facts about the machine and processes, read from `/proc` and small
//! commands: CPU time of a PID, clock ticks per second, the header lines.
//!
//! Invariant: read-only; every external command runs bounded in time
//! (`slotway_fixture::run_bounded`).

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

const CMD_TIMEOUT: Duration = Duration::from_secs(10);

/// utime + stime (fields 14 and 15 of `/proc/<pid>/stat`), in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    parse_cpu_ticks(&stat).with_context(|| format!("parse {path}: {stat}"))
}

/// utime + stime from the text of a `/proc/<pid>/stat` file. The command name
/// (field 2) is in parentheses and may contain spaces, so fields are counted
/// from the last `)`: field 3 (state) is the first after it.
pub fn parse_cpu_ticks(stat: &str) -> Result<u64> {
    let (_, rest) = stat.rsplit_once(')').context("no `)` in stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3, so field n is fields[n - 3].
    let utime: u64 = fields.get(14 - 3).context("no utime")?.parse()?;
    let stime: u64 = fields.get(15 - 3).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clk_tck() -> Result<u64> {
    let out = run_bounded(Command::new("getconf").arg("CLK_TCK"), CMD_TIMEOUT)?;
    if !out.status.success() {
        bail!("getconf CLK_TCK failed: {}", out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let tck: u64 = text
        .trim()
        .parse()
        .with_context(|| format!("getconf CLK_TCK printed `{text}`"))?;
    if tck == 0 {
        bail!("getconf CLK_TCK printed 0");
    }
    Ok(tck)
}

/// `redis-server --version`'s `v=` value.
pub fn redis_version() -> Result<String> {
    let out = run_bounded(Command::new("redis-server").arg("--version"), CMD_TIMEOUT)?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok(text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("v="))
        .unwrap_or(text.trim())
        .to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The header lines printed before the results.
pub fn machine_lines() -> Result<Vec<String>> {
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    Ok(vec![
        format!("- date: {}", utc_now()),
        format!("- machine: {nproc} CPUs ({}), Linux {kernel}", cpu_model()),
        format!("- redis: {}", redis_version()?),
    ])
}

/// Now as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian;
/// days-to-civil conversion after H. Hinnant).
pub fn format_utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_name() {
        let stat = "1234 (redis-server *:1) S 1 2 3 4 5 6 7 8 9 10 111 222 13 14 20 0 4 0 100";
        assert_eq!(parse_cpu_ticks(stat).unwrap(), 333);
        assert!(parse_cpu_ticks("garbage").is_err());
    }

    #[test]
    fn reads_own_cpu_time() {
        assert!(cpu_ticks(std::process::id()).is_ok());
        assert!(clk_tck().unwrap() > 0);
    }

    #[test]
    fn formats_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
