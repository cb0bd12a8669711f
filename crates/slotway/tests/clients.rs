//! Real, unmodified Redis clients in front of the proxy: `redis-cli` (stdin,
//! `--pipe` and formatted modes), redis-py 8 (RESP3 by default, and RESP2)
//! and the `redis` crate (RESP2 and RESP3). Each test runs its own 3-master
//! cluster; every external program runs bounded in time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::cluster_and_proxy;
use slotway_fixture::run_bounded;

/// Bound for one run of an external client.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `cmd` with `input` on its stdin (then closed), stdout and stderr
/// captured; kills it (its own child) and fails the test after `timeout`.
fn run_with_stdin(cmd: &mut Command, input: &[u8], timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Dropping stdin at the end of the thread sends EOF.
    let writer = thread::spawn(move || stdin.write_all(&input));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let _ = writer.join();
    let Some(status) = status else {
        panic!(
            "{what} still running after {timeout:?} (killed)\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn redis_cli(port: u16) -> Command {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    cmd
}

#[test]
fn redis_cli_stdin_mode() {
    let (_cluster, proxy) = cluster_and_proxy();
    let port = proxy.port();

    // Commands read from stdin, one per line; raw output (stdout is a pipe).
    let out = run_with_stdin(
        &mut redis_cli(port),
        b"SET a 1\nGET a\nPING\nHSET h f v\nHGETALL h\n",
        CLIENT_TIMEOUT,
    );
    assert!(out.status.success(), "redis-cli failed: {}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "OK\n1\nPONG\n1\nf\nv\n",
        "{}",
        describe(&out)
    );

    // Same mode over RESP3 (`-3` sends HELLO 3 first): a map, a double, a null.
    let out = run_with_stdin(
        redis_cli(port).arg("-3"),
        b"HGETALL h\nZADD z 1.5 m\nZSCORE z m\nGET nope\nGET a\n",
        CLIENT_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "redis-cli -3 failed: {}",
        describe(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "f v\n1\n1.5\n\n1\n",
        "{}",
        describe(&out)
    );

    // Formatted output of a keyless command the proxy forwards to a node.
    let out = run_bounded(
        redis_cli(port).args(["--no-raw", "COMMAND", "DOCS", "GET"]),
        CLIENT_TIMEOUT,
    )
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stdout.starts_with("1) \"get\"\n2)  1) \"summary\"\n")
            && stdout.contains("\"Get the value of a key\""),
        "COMMAND DOCS GET through the proxy: {}",
        describe(&out)
    );
    assert!(!stdout.contains("ERR"), "{}", describe(&out));
}

#[test]
fn redis_cli_pipe_mode() {
    let (_cluster, proxy) = cluster_and_proxy();
    // Mass insertion: raw RESP on stdin, then redis-cli's own ECHO marker.
    let n = 2000;
    let mut input = Vec::new();
    for i in 0..n {
        let (k, v) = (format!("pipe:{i}"), format!("v{i}"));
        input.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    let out = run_with_stdin(
        redis_cli(proxy.port()).arg("--pipe"),
        &input,
        CLIENT_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "redis-cli --pipe failed: {}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("errors: 0, replies: {n}")),
        "{}",
        describe(&out)
    );
    let mut c = proxy.client();
    for i in (0..n).step_by(97) {
        assert_eq!(
            common::bulk(&c.cmd(&["GET", &format!("pipe:{i}")])),
            format!("v{i}").as_bytes()
        );
    }
}

/// Runs the redis-py script against the proxy with `proto` (3: redis-py's
/// default, not passed to the client; 2: `protocol=2`).
fn run_redis_py(proto: u8) {
    let (_cluster, proxy) = cluster_and_proxy();
    common::run_redis_py_script(
        "redis_py_client.py",
        &[proxy.port().to_string(), proto.to_string()],
        CLIENT_TIMEOUT,
        &format!("redis-py (RESP{proto})"),
    );
}

#[test]
fn redis_py_resp3_default() {
    run_redis_py(3);
}

#[test]
fn redis_py_resp2() {
    run_redis_py(2);
}

fn binary_value(i: usize) -> Vec<u8> {
    let mut v = format!("bin{i}").into_bytes();
    v.extend_from_slice(b"\r\n\x00\xff$-1\r\n*1\r\n\x00");
    v
}

/// The `redis` crate (sync API) as a plain client, over `url`.
fn exercise_redis_rs(url: &str, resp3: bool) {
    use redis::{Commands, Value};

    let p = if resp3 { "rs3" } else { "rs2" };
    let k = |name: &str| format!("{p}:{name}");

    let client = redis::Client::open(url).unwrap();
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap();
    con.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    con.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    // Strings.
    let _: () = con.set(k("s"), "hello").unwrap();
    let got: String = con.get(k("s")).unwrap();
    assert_eq!(got, "hello");
    let missing: Option<String> = con.get(k("missing")).unwrap();
    assert_eq!(missing, None);
    let n: i64 = con.incr(k("counter"), 1).unwrap();
    assert_eq!(n, 1);
    let n: i64 = con.incr(k("counter"), 41).unwrap();
    assert_eq!(n, 42);
    let err = con.incr::<_, _, i64>(k("s"), 1).unwrap_err();
    assert!(
        err.to_string().contains("not an integer"),
        "INCR on a string: {err}"
    );

    // Hashes: the raw reply is a map in RESP3, a flat array in RESP2.
    let _: () = con
        .hset_multiple(k("h"), &[("f1", "v1"), ("f2", "v2")])
        .unwrap();
    let all: std::collections::HashMap<String, String> = con.hgetall(k("h")).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["f1"], "v1");
    assert_eq!(all["f2"], "v2");
    let raw: Value = redis::cmd("HGETALL").arg(k("h")).query(&mut con).unwrap();
    match (&raw, resp3) {
        (Value::Map(pairs), true) => assert_eq!(pairs.len(), 2, "{raw:?}"),
        (Value::Array(items), false) => assert_eq!(items.len(), 4, "{raw:?}"),
        _ => panic!("HGETALL over RESP{}: {raw:?}", if resp3 { 3 } else { 2 }),
    }
    let _: () = con.zadd(k("z"), "m", 1.5).unwrap();
    let raw: Value = redis::cmd("ZSCORE")
        .arg(k("z"))
        .arg("m")
        .query(&mut con)
        .unwrap();
    match (&raw, resp3) {
        (Value::Double(d), true) => assert!((d - 1.5).abs() < f64::EPSILON, "{raw:?}"),
        (Value::BulkString(b), false) => assert_eq!(b, b"1.5"),
        _ => panic!("ZSCORE over RESP{}: {raw:?}", if resp3 { 3 } else { 2 }),
    }
    let score: f64 = con.zscore(k("z"), "m").unwrap();
    assert!((score - 1.5).abs() < f64::EPSILON);

    // Lists.
    let _: () = con.del(k("l")).unwrap();
    let len: i64 = con.lpush(k("l"), &["c", "b", "a"]).unwrap();
    assert_eq!(len, 3);
    let items: Vec<String> = con.lrange(k("l"), 0, -1).unwrap();
    assert_eq!(items, ["a", "b", "c"]);

    // Binary keys and values survive both ways.
    let bkey = [k("bin:").as_bytes(), b"\r\n\x00key"].concat();
    let bval = binary_value(0);
    let _: () = con.set(&bkey, &bval).unwrap();
    let got: Vec<u8> = con.get(&bkey).unwrap();
    assert_eq!(got, bval);

    // A pipeline of 500 commands over many slots, in order.
    let mut pipe = redis::pipe();
    for i in 0..250 {
        pipe.cmd("SET")
            .arg(format!("{p}:p:{i}"))
            .arg(binary_value(i))
            .ignore();
        pipe.cmd("GET").arg(format!("{p}:p:{i}"));
    }
    let got: Vec<Vec<u8>> = pipe.query(&mut con).unwrap();
    assert_eq!(got.len(), 250);
    for (i, v) in got.iter().enumerate() {
        assert_eq!(v, &binary_value(i), "pipeline reply {i}");
    }
    let slots: HashSet<u16> = (0..250)
        .map(|i| slotway_hashkit::key_slot(format!("{p}:p:{i}").as_bytes()))
        .collect();
    assert!(
        slots.len() > 200,
        "pipeline keys cover only {} slots",
        slots.len()
    );

    // A mixed pipeline: every reply lands at its place.
    let mut pipe = redis::pipe();
    for i in 0..100 {
        pipe.cmd("INCR").arg(format!("{p}:mix:n:{i}"));
        pipe.cmd("HSET")
            .arg(format!("{p}:mix:h:{i}"))
            .arg("f")
            .arg(i);
        pipe.cmd("RPUSH")
            .arg(format!("{p}:mix:l:{i}"))
            .arg(i)
            .arg(i + 1);
        pipe.cmd("GET").arg(format!("{p}:p:{i}"));
        pipe.cmd("EXISTS").arg(format!("{p}:mix:none:{i}"));
    }
    let got: Vec<Value> = pipe.query(&mut con).unwrap();
    assert_eq!(got.len(), 500);
    for (i, chunk) in got.chunks(5).enumerate() {
        assert_eq!(chunk[0], Value::Int(1), "INCR {i}");
        assert_eq!(chunk[1], Value::Int(1), "HSET {i}");
        assert_eq!(chunk[2], Value::Int(2), "RPUSH {i}");
        assert_eq!(chunk[3], Value::BulkString(binary_value(i)), "GET {i}");
        assert_eq!(chunk[4], Value::Int(0), "EXISTS {i}");
    }

    // Expiry.
    let _: () = con.set_ex(k("ttl"), "x", 100).unwrap();
    let ttl: i64 = con.ttl(k("ttl")).unwrap();
    assert!((1..=100).contains(&ttl), "TTL {ttl}");
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");

    // A second connection sees the first one's writes.
    let mut other = client.get_connection().unwrap();
    let n: i64 = other.get(k("counter")).unwrap();
    assert_eq!(n, 42);
}

#[test]
fn redis_rs_plain_client() {
    let (_cluster, proxy) = cluster_and_proxy();
    let port = proxy.port();
    exercise_redis_rs(&format!("redis://127.0.0.1:{port}/"), false);
    exercise_redis_rs(&format!("redis://127.0.0.1:{port}/?protocol=resp3"), true);
}
