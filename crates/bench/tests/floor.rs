//! `slotway-floor` against three real redis-servers: the bench's floor rows
//! mean something only if it answers every request, in each client's order,
//! whichever server each key lands on; and a client that leaves with replies
//! in flight must not disturb another.

#![allow(clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use slotway_fixture::{RedisServer, free_port, require_binaries};

/// The floor proxy as a child process, killed by its own handle on drop.
struct Floor {
    child: Child,
    port: u16,
}

impl Floor {
    fn start(servers: &[RedisServer], tasks: bool) -> Floor {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slotway-floor"));
        if tasks {
            cmd.arg("--tasks");
        }
        cmd.args(["--listen", &format!("127.0.0.1:{port}")]);
        for s in servers {
            cmd.args(["--server", &s.addr()]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn slotway-floor");
        let floor = Floor { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "slotway-floor never listened on {port}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        floor
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to slotway-floor");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        s
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Sends `requests` in one write and reads exactly `expected.len()` bytes.
fn exchange(stream: &mut TcpStream, requests: &[u8], expected: &[u8]) -> Vec<u8> {
    stream.write_all(requests).expect("write requests");
    let mut got = vec![0u8; expected.len()];
    stream.read_exact(&mut got).expect("read replies");
    got
}

#[test]
fn event_loop_answers_every_request_in_each_clients_order() {
    answers_every_request_in_each_clients_order(false);
}

#[test]
fn tasks_answer_every_request_in_each_clients_order() {
    answers_every_request_in_each_clients_order(true);
}

fn answers_every_request_in_each_clients_order(tasks: bool) {
    require_binaries(&["redis-server"]);
    let servers: Vec<RedisServer> = (0..3)
        .map(|_| RedisServer::start().expect("redis-server"))
        .collect();
    let floor = Floor::start(&servers, tasks);

    // A client that leaves with a thousand replies in flight.
    let mut leaver = floor.connect();
    let flood: Vec<u8> = (0..1000)
        .flat_map(|i| command(&["GET", &format!("k{i}")]))
        .collect();
    leaver.write_all(&flood).expect("write flood");
    drop(leaver);

    let mut client = floor.connect();
    let n = 300;
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for i in 0..n {
        requests.extend(command(&["SET", &format!("k{i}"), &format!("value-{i}")]));
        expected.extend_from_slice(b"+OK\r\n");
    }
    for i in 0..n {
        requests.extend(command(&["GET", &format!("k{i}")]));
        let value = format!("value-{i}");
        expected.extend(format!("${}\r\n{value}\r\n", value.len()).into_bytes());
    }
    let got = exchange(&mut client, &requests, &expected);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );

    // The keys really are spread: every server holds some.
    for s in &servers {
        let size: u64 = s
            .cmd(&["DBSIZE"])
            .expect("DBSIZE")
            .parse()
            .expect("a count");
        assert!(
            size > 0 && size < n,
            "{} holds {size} of {n} keys",
            s.addr()
        );
    }

    // One request at a time too (the `-P 1` shape).
    for i in 0..20 {
        let value = format!("value-{i}");
        let reply = format!("${}\r\n{value}\r\n", value.len()).into_bytes();
        let got = exchange(&mut client, &command(&["GET", &format!("k{i}")]), &reply);
        assert_eq!(got, reply);
    }
}
