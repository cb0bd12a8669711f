//! `slotway-floor`: a measuring stick, not a product: the least CPU a proxy
//! hop costs on this host, so the `-P 1` target can be read against what any
//! design could reach here.
//!
//! One thread and one `mio` event loop, in nutcracker's shape but with
//! Slotway's habits on the wire: every socket registered once (edge
//! triggered, never re-armed), a read takes what the socket has and stops
//! when it did not fill the space offered, requests from all clients for one
//! server are written with one `write` per loop turn, replies are matched to
//! requests in order and written back in each client's order with one
//! `write` per client per turn. It parses with Slotway's own parsers
//! (`slotway_resp`) and places keys by CRC16 slot over the servers given, so
//! what it leaves out is exactly the rest: the tokio runtime, the per-session
//! task and the backend connection task, commands, limits, metrics.
//! `--tasks` runs the same proxy in Slotway's task shape instead (`tasks.rs`),
//! so the two shapes can be told apart.
//!
//! Invariants: a client's replies go out in its request order (each request
//! takes a slot in the client's queue, filled when its server answers);
//! a reply for a client that has gone is dropped (slots carry the client's
//! generation); a broken server connection ends the process with an error
//! (nothing is retried: a measuring run must not go on silently degraded).

mod client;
mod io;
mod order;
mod server;
mod tasks;

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use client::Clients;
use server::Servers;

const USAGE: &str = "\
usage: slotway-floor [--tasks] --listen HOST:PORT --server HOST:PORT [--server HOST:PORT ...]

  --tasks   tokio tasks instead of the event loop: a task per client and per
            server, channels between them (the shape of Slotway's data path)";
/// Events taken from one `epoll_wait`.
const EVENTS: usize = 1024;
/// Space offered to one read; shared by every socket (one loop, one thread).
const READ_SPACE: usize = 64 * 1024;
const LISTENER: Token = Token(0);

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("slotway-floor: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// What the command line asks for.
struct Args {
    listen: SocketAddr,
    servers: Vec<SocketAddr>,
    tasks: bool,
}

fn parse_args() -> Result<Args> {
    let mut listen = None;
    let mut servers = Vec::new();
    let mut tasks = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--tasks" => tasks = true,
            "--listen" | "--server" => {
                let value = args
                    .next()
                    .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
                let addr: SocketAddr = value.parse().with_context(|| format!("{flag} {value}"))?;
                if flag == "--listen" {
                    listen = Some(addr);
                } else {
                    servers.push(addr);
                }
            }
            _ => bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    let listen = listen.with_context(|| format!("--listen is required\n{USAGE}"))?;
    if servers.is_empty() {
        bail!("at least one --server is required\n{USAGE}");
    }
    Ok(Args {
        listen,
        servers,
        tasks,
    })
}

fn run() -> Result<()> {
    let Args {
        listen,
        servers: addrs,
        tasks,
    } = parse_args()?;
    if tasks {
        return tasks::run(listen, &addrs);
    }
    let mut poll = Poll::new().context("epoll")?;
    let mut servers = Servers::connect(&addrs, poll.registry())?;
    let mut listener = TcpListener::bind(listen).with_context(|| format!("bind {listen}"))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .context("register the listener")?;
    let mut clients = Clients::new(servers.len() + 1);
    let mut events = Events::with_capacity(EVENTS);
    let mut space = vec![0u8; READ_SPACE];
    loop {
        if let Err(err) = poll.poll(&mut events, None) {
            if err.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(err).context("epoll_wait");
        }
        for event in &events {
            let token = event.token();
            if token == LISTENER {
                accept_all(&listener, &mut clients, poll.registry())?;
            } else if let Some(index) = servers.index_of(token) {
                if event.is_readable() {
                    servers.read(index, &mut space, &mut clients)?;
                }
                if event.is_writable() {
                    servers.flush(index)?;
                }
            } else if event.is_readable() || event.is_writable() {
                let readable = event.is_readable() || event.is_read_closed();
                clients.serve(token, readable, &mut space, &mut servers, poll.registry());
            }
        }
        servers.flush_all()?;
        clients.flush_dirty(poll.registry());
    }
}

fn accept_all(
    listener: &TcpListener,
    clients: &mut Clients,
    registry: &mio::Registry,
) -> Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, _)) => clients.add(stream, registry),
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            // A client gone before its accept is its own business.
            Err(err) if err.kind() == ErrorKind::ConnectionAborted => {}
            // Out of descriptors and the like: edge-triggered, the listener
            // would not be reported again, so waiting clients would hang
            // unseen; a measuring run ends with the reason instead.
            Err(err) => return Err(err).context("accept"),
        }
    }
}
