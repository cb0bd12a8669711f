//! Test support: a throwaway redis-server on a free loopback port (killed by
//! PID on drop, so also when the test panics) and a tiny blocking RESP2
//! client over `std::net`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Value>),
}

impl Value {
    pub fn str(&self) -> &str {
        match self {
            Value::Simple(s) => s,
            Value::Bulk(b) => std::str::from_utf8(b).unwrap(),
            other => panic!("not a string: {other:?}"),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            other => panic!("not an integer: {other:?}"),
        }
    }

    pub fn array(&self) -> &[Value] {
        match self {
            Value::Array(a) => a,
            Value::Nil => &[],
            other => panic!("not an array: {other:?}"),
        }
    }

    pub fn strs(&self) -> Vec<&str> {
        self.array().iter().map(Value::str).collect()
    }

    /// A RESP2 flat `[k, v, k, v, ...]` map.
    pub fn map(&self) -> HashMap<&str, &Value> {
        let a = self.array();
        assert!(a.len().is_multiple_of(2), "odd map {self:?}");
        a.chunks(2).map(|kv| (kv[0].str(), &kv[1])).collect()
    }
}

pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Value {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out).unwrap();
        self.read()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "truncated reply line {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    fn read(&mut self) -> Value {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Value::Simple(rest.to_owned()),
            "-" => Value::Error(rest.to_owned()),
            ":" => Value::Int(rest.parse().unwrap()),
            "$" => match rest.parse::<i64>().unwrap() {
                n if n < 0 => Value::Nil,
                n => {
                    let mut buf = vec![0; n as usize + 2];
                    self.reader.read_exact(&mut buf).unwrap();
                    buf.truncate(n as usize);
                    Value::Bulk(buf)
                }
            },
            "*" => match rest.parse::<i64>().unwrap() {
                n if n < 0 => Value::Nil,
                n => Value::Array((0..n).map(|_| self.read()).collect()),
            },
            _ => panic!("unexpected reply {line:?}"),
        }
    }
}

/// A redis-server child process; killed (by PID) and reaped on drop.
pub struct Server {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Server {
    /// `None` when no `redis-server` is on PATH.
    pub fn start() -> Option<Server> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            return None;
        }
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        for attempt in 0..20u32 {
            let port =
                20000 + ((seed ^ std::process::id()).wrapping_add(attempt * 7919) % 10001) as u16;
            // Free right now? (Another process may still grab it: retried.)
            if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
                continue;
            }
            let dir = std::env::temp_dir().join(format!(
                "slotway-command-test-{}-{port}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&dir)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut server = Server { child, dir, port };
            if server.wait_ready() {
                return Some(server);
            }
            drop(server); // kills it; try another port
        }
        panic!("could not start redis-server on a free port");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(mut c) = self.try_connect()
                && c.call(&["PING"]) == Value::Simple("PONG".into())
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn try_connect(&self) -> std::io::Result<Conn> {
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    pub fn connect(&self) -> Conn {
        self.try_connect().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Child::kill signals this child's PID only.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
