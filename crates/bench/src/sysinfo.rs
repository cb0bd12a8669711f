//! Facts about the machine, read from `/proc` and small commands: clock
//! ticks per second, versions, and the header lines of a report.
//!
//! Invariant: read-only; every external command runs bounded in time
//! (`slotway_fixture::run_bounded`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use slotway_fixture::run_bounded;

const CMD_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The first line `bin --version` prints (nutcracker prints it on stderr).
pub fn version_of(bin: &Path, flag: &str) -> String {
    match run_bounded(Command::new(bin).arg(flag), CMD_TIMEOUT) {
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            text.lines().next().unwrap_or("unknown").trim().to_string()
        }
        Err(e) => format!("unknown ({e})"),
    }
}

/// `git rev-parse --short HEAD` of the working directory, if it is a checkout.
fn git_commit() -> String {
    let mut cmd = Command::new("git");
    cmd.args(["rev-parse", "--short", "HEAD"]);
    match run_bounded(&mut cmd, CMD_TIMEOUT) {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => "unknown (not run from a checkout)".into(),
    }
}

/// The first `key:` value of a `/proc` file such as `/proc/meminfo`.
fn proc_value(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    })
}

/// The header lines printed before the results.
pub fn machine_lines(nutcracker: &Path, slotway: &Path) -> Result<Vec<String>> {
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mem = proc_value("/proc/meminfo", "MemTotal")
        .and_then(|v| v.trim_end_matches(" kB").parse::<u64>().ok())
        .map_or_else(
            || "?".into(),
            |kb| format!("{:.0}", kb as f64 / 1_048_576.0),
        );
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    Ok(vec![
        format!("- date: {}", utc_now()),
        format!(
            "- machine: nproc {nproc}, {} (/proc/cpuinfo), {mem} GiB RAM, Linux {kernel}",
            proc_value("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into())
        ),
        format!("- load average at start: {load} (shared host)"),
        format!(
            "- redis-server {}; {}; {}",
            redis_version()?,
            version_of(nutcracker, "--version"),
            version_of(slotway, "--version")
        ),
        format!("- slotway commit: {}", git_commit()),
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
    fn reads_clock_ticks() {
        assert!(clk_tck().unwrap() > 0);
    }

    #[test]
    fn formats_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
