//! The `slotway` binary as an operator runs it: `--help`, a TOML config file,
//! config errors that name the key, and SIGTERM letting in-flight requests
//! finish before a clean exit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::text;
use slotway_fixture::Cluster;
use slotway_resp::Value;

const BIN: &str = env!("CARGO_BIN_EXE_slotway");

#[test]
fn help_explains_flags_and_config_file() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "--cluster",
        "--config",
        "--threads",
        "--log-level",
        "demo",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn bad_config_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[cluster]\nseeds = [\"127.0.0.1:7001\"]\nconections_per_node = 2\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("conections_per_node"), "{err}");

    let out = Command::new(BIN)
        .args(["--listen", "nonsense", "--cluster", "h:1", "check-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("proxy.listen"));

    let out = Command::new(BIN).arg("check-config").output().unwrap();
    assert!(!out.status.success(), "no seeds must be refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cluster.seeds"));
}

/// Output to a reader that went away (`slotway check-config | head -1`,
/// `slotway redis-cluster-proxy --help | head`) ends the command quietly,
/// as Unix tools do, instead of a panic on the broken pipe.
#[test]
fn output_to_a_closed_pipe_is_no_panic() {
    let runs: [&[&str]; 3] = [
        &["--cluster", "127.0.0.1:7001", "check-config"],
        &["redis-cluster-proxy", "--help"],
        &["nutcracker", "-t", "-c", "/nonexistent.yml"],
    ];
    for args in runs {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The read end closes before the process is far enough to write.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[test]
fn config_file_then_sigterm_finishes_in_flight_requests() {
    let cluster = Cluster::start(3, 0).unwrap();
    let port = slotway_fixture::free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slotway.toml");
    let seeds: Vec<String> = cluster.seeds().iter().map(|s| format!("{s:?}")).collect();
    std::fs::write(
        &path,
        format!(
            "[proxy]\nlisten = \"127.0.0.1:{port}\"\nthreads = 2\nshutdown_grace_ms = 10000\n\n\
             [cluster]\nseeds = [{}]\n\n[log]\nlevel = \"info\"\n",
            seeds.join(", ")
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = common::wait_child_serving(&mut child, port, &[&["GET", "probe"]], |v| {
        matches!(v, Value::Null)
    });
    assert_eq!(text(&c.cmd(&["SET", "k", "v"])), "OK");

    // A script that keeps its node busy for a while, in flight at SIGTERM.
    c.send_cmd(&[
        "EVAL",
        "local i=0 while i<30000000 do i=i+1 end return i",
        "0",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        c.read(),
        Value::Integer(30_000_000),
        "in-flight request must be answered"
    );
    assert!(
        c.closed(),
        "the connection closes after its in-flight requests"
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("slotway did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "listener closed"
    );
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("SIGTERM"), "{log}");
}
