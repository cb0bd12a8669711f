//! Helpers for the nutcracker differential test: a tiny blocking RESP2
//! client, an owned child process killed on drop, nutcracker startup, and
//! a deterministic key set.
//!
//! Invariants: loopback only; every connect, read and wait is bounded; a
//! process is only ever signalled through its own `Child` handle (by PID,
//! never by name), and `Drop` kills and reaps it, also when a test panics.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const IO_TIMEOUT: Duration = Duration::from_secs(20);
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// A blocking RESP2 connection to 127.0.0.1:`port`.
pub struct Resp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    port: u16,
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

impl Resp {
    pub fn connect(port: u16) -> std::io::Result<Resp> {
        let stream = TcpStream::connect_timeout(&loopback(port), Duration::from_secs(2))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Resp {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            port,
        })
    }

    /// Sends all `cmds` in one write, then reads one reply per command.
    pub fn pipeline(&mut self, cmds: &[Vec<&[u8]>]) -> std::io::Result<Vec<Reply>> {
        let mut out = Vec::new();
        for c in cmds {
            encode(&mut out, c);
        }
        self.writer.write_all(&out)?;
        (0..cmds.len()).map(|_| self.read_reply(0)).collect()
    }

    /// One command, one reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut r = self.pipeline(&[args.to_vec()])?;
        r.pop().ok_or_else(|| bad("no reply"))
    }

    fn line(&mut self) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        if self.reader.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("127.0.0.1:{} closed the connection", self.port),
            ));
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Ok(line)
    }

    fn read_reply(&mut self, depth: usize) -> std::io::Result<Reply> {
        if depth > 4 {
            return Err(bad("reply nested too deeply"));
        }
        let line = self.line()?;
        let (kind, rest) = line.split_first().ok_or_else(|| bad("empty line"))?;
        let text = String::from_utf8_lossy(rest).into_owned();
        let int = |s: &str| s.parse::<i64>().map_err(|_| bad(&format!("bad int {s:?}")));
        Ok(match kind {
            b'+' => Reply::Status(text),
            b'-' => Reply::Error(text),
            b':' => Reply::Int(int(&text)?),
            b'$' => match usize::try_from(int(&text)?) {
                Err(_) => Reply::Bulk(None),
                Ok(n) => {
                    let mut buf = vec![0u8; n + 2];
                    self.reader.read_exact(&mut buf)?;
                    buf.truncate(n);
                    Reply::Bulk(Some(buf))
                }
            },
            b'*' => match usize::try_from(int(&text)?) {
                Err(_) => Reply::Array(None),
                Ok(n) => Reply::Array(Some(
                    (0..n)
                        .map(|_| self.read_reply(depth + 1))
                        .collect::<std::io::Result<_>>()?,
                )),
            },
            other => return Err(bad(&format!("unknown reply type {other}"))),
        })
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// A child process owned by the test: killed (SIGKILL, by its own handle)
/// and reaped on drop.
pub struct Owned {
    pub child: Child,
    pub what: String,
    pub log: PathBuf,
}

impl Owned {
    pub fn log_tail(&self) -> String {
        slotway_fixture::log_tail(&self.log, 30)
    }

    /// `Some(status)` if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The nutcracker binary: on `PATH`, or Debian's `/usr/sbin/nutcracker`.
pub fn nutcracker_binary() -> Option<PathBuf> {
    slotway_fixture::find_binary("nutcracker")
        .or_else(|| slotway_fixture::find_binary("/usr/sbin/nutcracker"))
}

/// Spawns `program args`, stdout/stderr appended to `log`.
pub fn spawn(program: &Path, args: &[String], log: &Path) -> Owned {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap()
    };
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(open())
        .stderr(open())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    Owned {
        child,
        what: format!("{} {}", program.display(), args.join(" ")),
        log: log.to_path_buf(),
    }
}

/// Polls until `port` answers `PING` with `+PONG`, `proc` exits, or the
/// start timeout passes. `Err` carries the reason and the log tail.
pub fn wait_pong(proc: &mut Owned, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = proc.exited() {
            return Err(format!(
                "`{}` exited with {status}:\n{}",
                proc.what,
                proc.log_tail()
            ));
        }
        let pong = Resp::connect(port)
            .and_then(|mut c| c.cmd(&[b"PING"]))
            .is_ok_and(|r| r == Reply::Status("PONG".into()));
        if pong {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "`{}`: port {port} not answering PING after {START_TIMEOUT:?}:\n{}",
                proc.what,
                proc.log_tail()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// splitmix64: a deterministic generator for key material.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// About 1000 distinct keys: ASCII, UTF-8, every single byte, high bytes
/// (0x80 and up) in every tail position, random binary, the empty key, long
/// keys (up to 8000 bytes), hash-tag edge cases for `{}` and `$$`, and the
/// keys of the golden vectors (`vectors.rs`).
pub fn key_set() -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
    keys.extend((0..300).map(|i| format!("key:{i}").into_bytes()));
    keys.extend((0..50).map(|i| format!("kéy:{i}").into_bytes()));
    keys.extend((0..25).map(|i| format!("ключ:{i}").into_bytes()));
    keys.extend((0..25).map(|i| format!("键:{i}").into_bytes()));
    keys.extend((0..25).map(|i| format!("🔑{i}").into_bytes()));
    keys.extend((0..=255u8).map(|b| vec![b]));
    keys.extend([&b"\xc3"[..], b"\xc3\xc3", b"\xc3\xc3\xc3"].map(|k| [k, b":lone"].concat()));
    let mut rng = Rng(0x5107_3a11_c0de_0001);
    for _ in 0..64 {
        let (a, b) = (0x80 | rng.byte(), 0x80 | rng.byte());
        keys.push([&[a, b][..], format!(":{}", rng.below(1000)).as_bytes()].concat());
    }
    for _ in 0..150 {
        let len = 2 + rng.below(39) as usize;
        keys.push((0..len).map(|_| rng.byte()).collect());
    }
    for len in 1..=26usize {
        keys.push((0..len).map(|i| b'a' + (i % 26) as u8).collect());
        // High bytes everywhere, so every tail case sees one.
        keys.push(
            (0..len)
                .map(|i| 0x80 + ((i * 37 + len) % 128) as u8)
                .collect(),
        );
    }
    for len in [100usize, 255, 256, 1000, 1023, 4096, 8000] {
        keys.push((0..len).map(|i| b'A' + (i % 23) as u8).collect());
        keys.push((0..len).map(|_| rng.byte()).collect());
    }
    for k in [
        "{user:1}:a",
        "{user:1}:b",
        "{user:2}:a",
        "{}x",
        "x{}",
        "{}",
        "{",
        "}",
        "}{",
        "{{a}}",
        "{{a}",
        "a{b}c{d}",
        "a{b{c}d",
        "x{y}z",
        "{é}1",
        "{é}2",
        "$a$b",
        "$a$c",
        "$$",
        "$$$",
        "a$$b$c$",
        "$",
        "x$y",
        "{$a$}",
        "$\u{e9}$:1",
        "$\u{e9}$:2",
    ] {
        keys.push(k.as_bytes().to_vec());
    }
    keys.push(b"{\xff\x80}:1".to_vec());
    keys.push(b"{\xff\x80}:2".to_vec());
    keys.push(b"$\x00\xc3$".to_vec());
    // The keys of tests/vectors.rs.
    for k in [
        &b"abcd"[..],
        b"apple",
        b"key:12345",
        b"0123456789ab",
        b"0123456789abc",
        b"The quick brown fox jumps over the lazy dog",
        b"123456789",
        b"\xc3\xa9",
        b"\xff\xfe\xfd",
        b"\x80\x81\x82\x83",
        b"\xc3\xc3\xc3\xc3\xc3",
        b"ab\xc3",
        b"abcd\xff\xfe\xfd",
        b"\r\n\x00\xff",
        b"foo",
        b"bar",
        b"{user:1}:x",
    ] {
        keys.push(k.to_vec());
    }
    for k in ["kéy:1", "kéy:7", "键", "🔑", "a", "ab", "abc", "abcde"] {
        keys.push(k.as_bytes().to_vec());
    }
    keys.push((0..1000u32).map(|i| (i * 7 + 3) as u8).collect());
    keys.push((0..=255u8).collect());
    keys.sort();
    keys.dedup();
    keys
}
