//! Differential test of `parse_yaml` against the real nutcracker 0.5.0: a
//! corpus of valid and invalid configurations (every directive, every
//! validation rule, the YAML features nutcracker refuses, Slotway's
//! extensions) is checked with `nutcracker -t -c FILE` and with
//! `parse_yaml`.
//!
//! For each case the corpus records nutcracker's verdict (so a different
//! nutcracker fails the test instead of silently changing what is
//! compared), Slotway's verdict and a fragment of Slotway's message, and,
//! where the two differ, why. Where nutcracker refuses a configuration,
//! Slotway must refuse it too unless the case is a documented extension.
//! For refused configurations the test also runs nutcracker without `-t`
//! (it logs the reason, then exits without binding anything) and prints
//! its reason next to Slotway's.
//!
//! Skips (passes with a notice) when nutcracker is not installed, unless
//! `SLOTWAY_REQUIRE_NUTCRACKER=1`. Every run is bounded in time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod corpus;
mod support;

use std::path::Path;

use corpus::CORPUS;
use slotway_nutconf::parse_yaml;
use support::{nutcracker_or_skip, run};

/// nutcracker's `-t` verdict for `file`: `Ok(true)` for "syntax is ok".
fn nutcracker_test(bin: &Path, dir: &Path, file: &str) -> Result<bool, String> {
    let out = run(bin, dir, &["-t", "-c", file]);
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    match (
        out.status.success(),
        text.contains("syntax is ok"),
        text.contains("syntax is invalid"),
    ) {
        (true, true, false) => Ok(true),
        (false, false, true) => Ok(false),
        _ => Err(format!(
            "unexpected `nutcracker -t` outcome {}: {text}",
            out.status
        )),
    }
}

/// The reason nutcracker logs for a refused `file` (run without `-t`; it
/// exits before binding anything because the configuration is refused).
fn nutcracker_reason(bin: &Path, dir: &Path, file: &str) -> String {
    let log = format!("{file}.log");
    let stats_port = slotway_fixture::free_port().to_string();
    let out = run(
        bin,
        dir,
        &[
            "-c",
            file,
            "-o",
            &log,
            "-p",
            &format!("{file}.pid"),
            "-a",
            "127.0.0.1",
            "-s",
            &stats_port,
        ],
    );
    let logged = std::fs::read_to_string(dir.join(&log)).unwrap_or_default();
    let reason = logged
        .lines()
        .filter(|l| l.contains("conf:") || l.contains("failed"))
        .map(|l| l.split_once("] ").map_or(l, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join(" / ");
    if reason.is_empty() {
        format!("(no reason logged; {})", out.status)
    } else {
        reason
    }
}

#[test]
fn corpus_against_nutcracker() {
    assert!(CORPUS.len() >= 40, "corpus has {} cases", CORPUS.len());
    let mut names: Vec<&str> = CORPUS.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CORPUS.len(), "case names must be unique");

    // Slotway's side needs no binary.
    let mut failures = Vec::new();
    for case in CORPUS {
        match (parse_yaml(case.yaml), case.ours) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(fragment)) if e.to_string().contains(fragment) => {}
            (got, want) => failures.push(format!(
                "{}: Slotway gave {:?}, corpus expects {want:?}",
                case.name,
                got.map(|p| p.len())
            )),
        }
        if (case.nutcracker_ok != case.ours.is_ok()) == case.why.is_empty() {
            failures.push(format!(
                "{}: a case must explain exactly the verdicts that differ",
                case.name
            ));
        }
        if !case.nutcracker_ok && case.ours.is_ok() && !case.why.starts_with("extension") {
            failures.push(format!(
                "{}: nutcracker refuses it, so Slotway may accept it only as an extension",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let Some(bin) = nutcracker_or_skip("nutcracker_conf differential") else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("slotway-nutconf-")
        .tempdir()
        .unwrap();
    let mut report = Vec::new();
    for case in CORPUS {
        let file = format!("{}.yml", case.name);
        std::fs::write(dir.path().join(&file), case.yaml).unwrap();
        let verdict = match nutcracker_test(&bin, dir.path(), &file) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{}: {e}", case.name));
                continue;
            }
        };
        if verdict != case.nutcracker_ok {
            failures.push(format!(
                "{}: nutcracker says {}, the corpus says {}",
                case.name,
                if verdict { "ok" } else { "invalid" },
                if case.nutcracker_ok { "ok" } else { "invalid" },
            ));
        }
        let ours = match parse_yaml(case.yaml) {
            Ok(pools) => format!("ok ({} pools)", pools.len()),
            Err(e) => e.to_string(),
        };
        let theirs = if verdict {
            "ok".to_string()
        } else {
            nutcracker_reason(&bin, dir.path(), &file)
        };
        let mark = if case.why.is_empty() {
            "same"
        } else {
            case.why
        };
        report.push(format!(
            "{:<32} nutcracker: {theirs}\n{:<32} slotway:    {ours}  [{mark}]",
            case.name, ""
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
