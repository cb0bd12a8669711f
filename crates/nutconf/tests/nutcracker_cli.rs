//! Differential test of `NutcrackerArgs::parse` against the real nutcracker
//! 0.5.0 command line. Every case either shows a text (`-V`/`-h`/`-D`),
//! tests a configuration (`-t`) or is refused, so nutcracker never starts a
//! proxy; each run is bounded in time.
//!
//! Compared: the kind of outcome (show / test / refused) and, for `-t`, the
//! configuration file nutcracker names ("configuration file 'X' syntax is
//! ok"), which must be the file Slotway would read.
//!
//! Skips (passes with a notice) when nutcracker is not installed, unless
//! `SLOTWAY_REQUIRE_NUTCRACKER=1`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::ffi::OsString;

use slotway_nutconf::{Command, NutcrackerArgs};
use support::{nutcracker_or_skip, run};

/// What a command line led to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Printed the version (and help/description) and exited 0.
    Show,
    /// Tested this configuration file.
    Test(String),
    /// Refused the command line (exit 1 with a message and the usage).
    Refused,
}

const CASES: &[&[&str]] = &[
    &["-t", "-c", "ok.yml"],
    &["--test-conf", "--conf-file=ok.yml"],
    &["--conf", "ok.yml", "--test"],
    &["-t", "--c", "ok.yml"],
    &["-tcok.yml"],
    &["-tc", "ok.yml"],
    &["-dtv4", "-cok.yml"],
    &["extra", "-t", "-c", "ok.yml", "more"],
    &["-t", "-c", "ok.yml", "-c", "missing.yml"],
    &["-t", "-c", "missing.yml"],
    &["-V"],
    &["-h"],
    &["-D"],
    &["-Vh"],
    &["--version"],
    &["--help"],
    &["--describe-stats"],
    &["-t", "-V", "-c", "missing.yml"],
    &["-D", "-t", "-c", "missing.yml"],
    &["--help=3"],
    &["--bogus"],
    &["-x"],
    &["-?"],
    &["-tx"],
    &["--stats", "5", "-t"],
    &["--ver"],
    &["--d"],
    &["-m", "1", "-t"],
    &["-m", "511", "-t", "-c", "ok.yml"],
    &["-m", "512", "-t", "-c", "ok.yml"],
    &["-m", "0512", "-t", "-c", "ok.yml"],
    &["-m", "16777216", "-t", "-c", "ok.yml"],
    &["-m", "16777217", "-t", "-c", "ok.yml"],
    &["-m", "0", "-t"],
    &["-m", "x", "-t"],
    &["-s", "0", "-t"],
    &["-s", "70000", "-t"],
    &["-s", "1", "-t", "-c", "ok.yml"],
    &["-s", "00080", "-t", "-c", "ok.yml"],
    &["-s", "+5", "-t"],
    &["--stats-port=", "-t"],
    &["-v", "-1", "-t"],
    &["-v", "abc", "-t"],
    &["-v", "", "-t"],
    &["-v", "99", "-t", "-c", "ok.yml"],
    &["-v", "2147483647", "-t", "-c", "ok.yml"],
    &["-v", "2147483648", "-t", "-c", "ok.yml"],
    &["--verbose", "3", "-t", "-c", "ok.yml"],
    &["-i", "5x", "-t"],
    &["-i", "-1", "-t"],
    &["-i", "0", "-t", "-c", "ok.yml"],
    &["--stats-interval=100", "-t", "-c", "ok.yml"],
    &["-a", "1.2.3.4.5", "-t", "-c", "ok.yml"],
    &["--stats-addr", "127.0.0.1", "-t", "-c", "ok.yml"],
    &["-o", "", "-t", "-c", "ok.yml"],
    &["--output=nc.log", "-t", "-c", "ok.yml"],
    &["-p", "nc.pid", "-t", "-c", "ok.yml"],
    &["-c", "", "-t"],
    &["-c"],
    &["-p"],
    &["-o"],
    &["-a"],
    &["--conf-file"],
    &["--verbose"],
    &["-t", "-m"],
    &["-V", "-m", "1"],
];

fn ours(args: &[&str]) -> Outcome {
    match NutcrackerArgs::parse(args.iter().map(OsString::from)) {
        Ok(Command::Show(_)) => Outcome::Show,
        Ok(Command::TestConf(a)) => Outcome::Test(a.conf_file.to_string_lossy().into_owned()),
        Ok(Command::Run(a)) => panic!("{args:?} would run: {a:?}"),
        Err(_) => Outcome::Refused,
    }
}

fn theirs(text: &str, success: bool) -> Outcome {
    let tested = text
        .lines()
        .find_map(|l| l.strip_prefix("nutcracker: configuration file '"))
        .and_then(|rest| rest.rsplit_once("' syntax is "))
        .map(|(file, _)| file.to_string());
    match (tested, success, text.starts_with("This is nutcracker-")) {
        (Some(file), _, _) => Outcome::Test(file),
        (None, true, true) => Outcome::Show,
        (None, false, false) if text.contains("Usage: nutcracker") => Outcome::Refused,
        _ => panic!("unexpected nutcracker output (success={success}):\n{text}"),
    }
}

#[test]
fn command_line_against_nutcracker() {
    let Some(bin) = nutcracker_or_skip("nutcracker_cli differential") else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("slotway-nc-cli-")
        .tempdir()
        .unwrap();
    std::fs::write(
        dir.path().join("ok.yml"),
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n",
    )
    .unwrap();
    let mut failures = Vec::new();
    for args in CASES {
        // Nothing here may start a proxy: every case shows, tests or fails.
        let mine = ours(args);
        let out = run(&bin, dir.path(), args);
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        let real = theirs(&text, out.status.success());
        let first = text.lines().next().unwrap_or_default();
        eprintln!("{args:?}: nutcracker {real:?} ({first}); slotway {mine:?}");
        if mine != real {
            failures.push(format!("{args:?}: nutcracker {real:?}, slotway {mine:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
