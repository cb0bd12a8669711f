//! nutcracker 0.5.0's command line, so Slotway can stand in for the
//! `nutcracker` binary in existing scripts and service files.
//!
//! Owns [`NutcrackerArgs::parse`] (arguments → [`Command`]), the help and
//! version texts, and [`CliError`]. Invariants:
//! - the options, their long names, values and defaults are nutcracker's
//!   (upstream defaults, not Debian's patched paths); values are checked as
//!   nutcracker checks them (numbers are decimal digits up to 2147483647,
//!   the stats port 1..=65535, the mbuf size 512..=16777216);
//! - the syntax is GNU `getopt_long`'s: bundled flags (`-dt`), a value
//!   attached (`-c/path`, `-v4`) or in the next argument (even one that
//!   starts with `-`), `--long=value` or `--long value`, unambiguous
//!   prefixes of long names (`--conf`), `--` ending the options; other
//!   arguments are ignored, as nutcracker ignores them (kept in
//!   [`NutcrackerArgs::operands`] so a caller can warn);
//! - `-h`, `-V` and `-D` win over `-t` and running: the version line is
//!   printed (plus the help and/or the stats description) and nothing else
//!   happens, as in nutcracker;
//! - the version line is `This is nutcracker-0.5.0 (slotway X.Y.Z)`: it
//!   starts like nutcracker's, so scripts that grep it keep working, and
//!   says what is really running.
//!
//! nutcracker prints all of these texts, and its errors followed by the
//! usage, on standard error, and exits 1 on a command-line error.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

/// The nutcracker version Slotway is compatible with.
pub const NUTCRACKER_VERSION: &str = "0.5.0";

/// nutcracker's default `-c`.
pub const DEFAULT_CONF_FILE: &str = "conf/nutcracker.yml";
/// nutcracker's default `-v` (LOG_NOTICE).
pub const DEFAULT_VERBOSITY: u8 = 5;
/// nutcracker's most verbose level; higher `-v` values act as this one.
pub const MAX_VERBOSITY: u8 = 11;
/// nutcracker's default `-s`.
pub const DEFAULT_STATS_PORT: u16 = 22222;
/// nutcracker's default `-a`.
pub const DEFAULT_STATS_ADDR: &str = "0.0.0.0";
/// nutcracker's default `-i`.
pub const DEFAULT_STATS_INTERVAL: Duration = Duration::from_millis(30_000);
/// nutcracker's default `-m`.
pub const DEFAULT_MBUF_SIZE: u32 = 16_384;
/// Smallest `-m`.
pub const MIN_MBUF_SIZE: u32 = 512;
/// Largest `-m` (16 MiB).
pub const MAX_MBUF_SIZE: u32 = 16 * 1024 * 1024;

/// The settings of a nutcracker command line (for `-t` or a run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NutcrackerArgs {
    /// `-d`: run as a daemon.
    pub daemonize: bool,
    /// `-v N`: log level 0..=11 (larger values are lowered to 11).
    pub verbosity: u8,
    /// `-o S`: log file; `None` (also for `-o ''`) is standard error.
    pub output: Option<PathBuf>,
    /// `-c S`: the YAML configuration file.
    pub conf_file: PathBuf,
    /// `-s N`: stats port.
    pub stats_port: u16,
    /// `-a S`: stats listen address (not checked here, as in nutcracker).
    pub stats_addr: String,
    /// `-i N`: stats aggregation interval.
    pub stats_interval: Duration,
    /// `-p S`: pid file, if any.
    pub pid_file: Option<PathBuf>,
    /// `-m N`: I/O buffer chunk size in bytes.
    pub mbuf_size: u32,
    /// Arguments that are not options; nutcracker ignores them.
    pub operands: Vec<OsString>,
}

impl Default for NutcrackerArgs {
    fn default() -> Self {
        NutcrackerArgs {
            daemonize: false,
            verbosity: DEFAULT_VERBOSITY,
            output: None,
            conf_file: PathBuf::from(DEFAULT_CONF_FILE),
            stats_port: DEFAULT_STATS_PORT,
            stats_addr: DEFAULT_STATS_ADDR.to_string(),
            stats_interval: DEFAULT_STATS_INTERVAL,
            pid_file: None,
            mbuf_size: DEFAULT_MBUF_SIZE,
            operands: Vec::new(),
        }
    }
}

/// What a nutcracker command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `-V`, `-h` or `-D`: print [`Show::text`] and exit 0.
    Show(Show),
    /// `-t`: check the configuration file, print whether it is ok, exit.
    TestConf(NutcrackerArgs),
    /// Run the proxy.
    Run(NutcrackerArgs),
}

/// What `-V`/`-h`/`-D` print: always the version line, then the help
/// and/or the stats description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Show {
    /// `-h` was given.
    pub help: bool,
    /// `-D` was given.
    pub describe_stats: bool,
}

impl Show {
    /// The whole text, newline-terminated.
    #[must_use]
    pub fn text(self) -> String {
        let mut text = version_line();
        text.push('\n');
        if self.help {
            text.push('\n');
            text.push_str(&usage());
        }
        if self.describe_stats {
            text.push('\n');
            text.push_str(&crate::stats::describe_stats());
        }
        text
    }
}

/// `This is nutcracker-0.5.0 (slotway X.Y.Z)`.
#[must_use]
pub fn version_line() -> String {
    format!(
        "This is nutcracker-{NUTCRACKER_VERSION} (slotway {})",
        env!("CARGO_PKG_VERSION")
    )
}

/// The usage and option list (printed by `-h` and after an error).
#[must_use]
pub fn usage() -> String {
    format!(
        "\
Usage: nutcracker [-hVtdD] [-v level] [-o log file] [-c conf file]
                  [-s stats port] [-a stats addr] [-i stats interval]
                  [-p pid file] [-m mbuf size]

Slotway standing in for nutcracker {NUTCRACKER_VERSION} (twemproxy): the same options,
YAML configuration and stats port. Only Redis pools are supported.

Options:
  -h, --help               print this help, then exit
  -V, --version            print the version, then exit
  -t, --test-conf          check the configuration file, then exit
  -d, --daemonize          run in the background
  -D, --describe-stats     explain each stats field, then exit
  -v, --verbose=N          log level from 0 (quiet) to {MAX_VERBOSITY} (most detail); default {DEFAULT_VERBOSITY}
  -o, --output=S           log file; default standard error
  -c, --conf-file=S        YAML configuration file; default {DEFAULT_CONF_FILE}
  -s, --stats-port=N       TCP port of the stats server; default {DEFAULT_STATS_PORT}
  -a, --stats-addr=S       address of the stats server; default {DEFAULT_STATS_ADDR}
  -i, --stats-interval=N   stats aggregation interval in ms; default {}
  -p, --pid-file=S         write the process id to this file; default none
  -m, --mbuf-size=N        I/O buffer chunk size in bytes, {MIN_MBUF_SIZE} to {MAX_MBUF_SIZE}; default {DEFAULT_MBUF_SIZE}
",
        DEFAULT_STATS_INTERVAL.as_millis()
    )
}

/// A command line nutcracker would refuse (it prints the message, then
/// the usage, and exits 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// An option nutcracker does not have.
    #[error("unrecognized option '{0}'")]
    Unknown(String),
    /// A long-option prefix matching several options.
    #[error("option '{given}' is ambiguous; possibilities: {candidates}")]
    Ambiguous {
        /// What was given (`--stats`).
        given: String,
        /// The matching long names.
        candidates: String,
    },
    /// `--flag=value` for an option without a value.
    #[error("option '--{0}' doesn't allow an argument")]
    UnexpectedValue(&'static str),
    /// An option without its value at the end of the arguments.
    #[error("option -{0} requires {1}")]
    MissingValue(char, &'static str),
    /// A value that is not decimal digits from 0 to 2147483647.
    #[error("option -{option} requires a number (got {value:?})")]
    NotNumber {
        /// The short option (`v`, `s`, `i`, `m`).
        option: char,
        /// The value given.
        value: String,
    },
    /// `-s` outside 1..=65535.
    #[error("option -s value {0} is not a valid port")]
    BadPort(u32),
    /// `-m` that is not a positive number.
    #[error("option -m requires a non-zero number (got {0:?})")]
    ZeroMbuf(String),
    /// `-m` outside 512..=16777216.
    #[error("mbuf chunk size must be between {MIN_MBUF_SIZE} and {MAX_MBUF_SIZE} bytes (got {0})")]
    MbufSize(u32),
    /// A `-a` value that is not UTF-8.
    #[error("option -{0} requires a string (got one that is not UTF-8)")]
    NotUtf8(char),
}

/// One option: its letter, its long name, and what its value is (`None`:
/// a flag).
struct Spec {
    short: u8,
    long: &'static str,
    value: Option<&'static str>,
}

const fn flag(short: u8, long: &'static str) -> Spec {
    Spec {
        short,
        long,
        value: None,
    }
}

const fn valued(short: u8, long: &'static str, what: &'static str) -> Spec {
    Spec {
        short,
        long,
        value: Some(what),
    }
}

const SPECS: [Spec; 13] = [
    flag(b'h', "help"),
    flag(b'V', "version"),
    flag(b't', "test-conf"),
    flag(b'd', "daemonize"),
    flag(b'D', "describe-stats"),
    valued(b'v', "verbose", "a number"),
    valued(b'o', "output", "a file name"),
    valued(b'c', "conf-file", "a file name"),
    valued(b's', "stats-port", "a number"),
    valued(b'i', "stats-interval", "a number"),
    valued(b'a', "stats-addr", "a string"),
    valued(b'p', "pid-file", "a file name"),
    valued(b'm', "mbuf-size", "a number"),
];

/// The option named by a long name or an unambiguous prefix of one.
fn find_long(given: &str) -> Result<&'static Spec, CliError> {
    if let Some(exact) = SPECS.iter().find(|s| s.long == given) {
        return Ok(exact);
    }
    let matches: Vec<&Spec> = SPECS
        .iter()
        .filter(|s| !given.is_empty() && s.long.starts_with(given))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(CliError::Unknown(format!("--{given}"))),
        _ => Err(CliError::Ambiguous {
            given: format!("--{given}"),
            candidates: matches
                .iter()
                .map(|s| format!("'--{}'", s.long))
                .collect::<Vec<_>>()
                .join(" "),
        }),
    }
}

fn os_from_bytes(bytes: &[u8]) -> OsString {
    #[cfg(unix)]
    {
        <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes).to_os_string()
    }
    #[cfg(not(unix))]
    {
        OsString::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// nutcracker's `nc_atoi`: decimal digits only, at most 2147483647.
fn number(option: char, value: &OsStr) -> Result<u32, CliError> {
    let text = value.to_string_lossy();
    let digits = text.trim_start_matches('0');
    let parsed = if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        None
    } else if digits.is_empty() {
        Some(0)
    } else {
        digits
            .parse::<u32>()
            .ok()
            .filter(|&n| i32::try_from(n).is_ok())
    };
    parsed.ok_or_else(|| CliError::NotNumber {
        option,
        value: text.into_owned(),
    })
}

/// Options seen so far.
#[derive(Default)]
struct Seen {
    args: NutcrackerArgs,
    show: Show,
    version: bool,
    test: bool,
}

impl Seen {
    fn apply(&mut self, spec: &Spec, value: Option<OsString>) -> Result<(), CliError> {
        let option = char::from(spec.short);
        let value = value.unwrap_or_default();
        let a = &mut self.args;
        match spec.short {
            b'h' => self.show.help = true,
            b'V' => self.version = true,
            b't' => self.test = true,
            b'd' => a.daemonize = true,
            b'D' => self.show.describe_stats = true,
            b'v' => {
                let level = number(option, &value)?.min(u32::from(MAX_VERBOSITY));
                a.verbosity = u8::try_from(level).unwrap_or(MAX_VERBOSITY);
            }
            b'o' => a.output = (!value.is_empty()).then(|| PathBuf::from(value)),
            b'c' => a.conf_file = PathBuf::from(value),
            b's' => {
                let port = number(option, &value)?;
                a.stats_port = u16::try_from(port)
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or(CliError::BadPort(port))?;
            }
            b'i' => a.stats_interval = Duration::from_millis(u64::from(number(option, &value)?)),
            b'a' => {
                a.stats_addr = value.into_string().map_err(|_| CliError::NotUtf8(option))?;
            }
            b'p' => a.pid_file = Some(PathBuf::from(value)),
            // b'm', the last option of SPECS.
            _ => {
                let size = number(option, &value)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CliError::ZeroMbuf(value.to_string_lossy().into_owned()))?;
                if !(MIN_MBUF_SIZE..=MAX_MBUF_SIZE).contains(&size) {
                    return Err(CliError::MbufSize(size));
                }
                a.mbuf_size = size;
            }
        }
        Ok(())
    }

    fn command(self) -> Command {
        if self.version || self.show.help || self.show.describe_stats {
            Command::Show(self.show)
        } else if self.test {
            Command::TestConf(self.args)
        } else {
            Command::Run(self.args)
        }
    }
}

impl NutcrackerArgs {
    /// Parses nutcracker's command line: the arguments *after* the program
    /// (or subcommand) name.
    ///
    /// # Errors
    /// The first argument nutcracker would refuse; see [`CliError`].
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, CliError> {
        let mut args = args.into_iter();
        let mut seen = Seen::default();
        while let Some(arg) = args.next() {
            let bytes = arg.as_encoded_bytes();
            if bytes == b"--" {
                seen.args.operands.extend(args);
                break;
            }
            if let Some(long) = bytes.strip_prefix(b"--") {
                let long = String::from_utf8_lossy(long);
                let (name, inline) = match long.split_once('=') {
                    Some((name, value)) => (name, Some(value)),
                    None => (long.as_ref(), None),
                };
                let spec = find_long(name)?;
                let value = match (spec.value, inline) {
                    (None, Some(_)) => return Err(CliError::UnexpectedValue(spec.long)),
                    (None, None) => None,
                    (Some(_), Some(_)) => {
                        // Keep the exact bytes after the first `=`.
                        let at = bytes.iter().position(|&b| b == b'=').unwrap_or(0);
                        Some(os_from_bytes(bytes.get(at + 1..).unwrap_or_default()))
                    }
                    (Some(what), None) => Some(
                        args.next()
                            .ok_or(CliError::MissingValue(char::from(spec.short), what))?,
                    ),
                };
                seen.apply(spec, value)?;
                continue;
            }
            let Some(mut rest) = bytes.strip_prefix(b"-").filter(|r| !r.is_empty()) else {
                seen.args.operands.push(arg.clone());
                continue;
            };
            while let Some((&letter, tail)) = rest.split_first() {
                let spec = SPECS.iter().find(|s| s.short == letter).ok_or_else(|| {
                    CliError::Unknown(format!("-{}", String::from_utf8_lossy(&[letter])))
                })?;
                let Some(what) = spec.value else {
                    seen.apply(spec, None)?;
                    rest = tail;
                    continue;
                };
                let value = if tail.is_empty() {
                    args.next()
                        .ok_or(CliError::MissingValue(char::from(letter), what))?
                } else {
                    os_from_bytes(tail)
                };
                seen.apply(spec, Some(value))?;
                break;
            }
        }
        Ok(seen.command())
    }
}

#[cfg(test)]
mod tests;
