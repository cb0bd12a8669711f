//! The floor proxy's server connections: one per server, opened at start.
//!
//! Owns each connection's write buffer (requests of every client, written
//! with one `write` per loop turn), its FIFO of tickets (which client slot
//! each request's reply fills: a server answers strictly in order) and its
//! read buffer, scanned into whole reply frames with Slotway's scanner.

use std::collections::VecDeque;
use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use slotway_resp::reply::ReplyScanner;

use crate::client::{Clients, Ticket};
use crate::io::{read_available, write_pending};
use crate::order::server_for;

/// One server connection.
struct Conn {
    addr: SocketAddr,
    stream: TcpStream,
    /// Requests not yet written; `written` bytes of it are.
    out: Vec<u8>,
    written: usize,
    /// One ticket per request written or waiting, oldest first.
    tickets: VecDeque<Ticket>,
    inbound: BytesMut,
    scanner: ReplyScanner,
}

/// Every server connection; tokens `1..=n` in order.
pub struct Servers {
    conns: Vec<Conn>,
}

impl Servers {
    /// Connects to every server (blocking, at start) and registers each.
    pub fn connect(addrs: &[SocketAddr], registry: &Registry) -> Result<Self> {
        let mut conns = Vec::with_capacity(addrs.len());
        for (i, addr) in addrs.iter().enumerate() {
            let std_stream =
                std::net::TcpStream::connect(addr).with_context(|| format!("connect to {addr}"))?;
            std_stream
                .set_nodelay(true)
                .with_context(|| format!("{addr}: TCP_NODELAY"))?;
            std_stream
                .set_nonblocking(true)
                .with_context(|| format!("{addr}: O_NONBLOCK"))?;
            let mut stream = TcpStream::from_std(std_stream);
            registry
                .register(
                    &mut stream,
                    Token(i + 1),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .with_context(|| format!("{addr}: register"))?;
            conns.push(Conn {
                addr: *addr,
                stream,
                out: Vec::with_capacity(64 * 1024),
                written: 0,
                tickets: VecDeque::with_capacity(1024),
                inbound: BytesMut::with_capacity(64 * 1024),
                scanner: ReplyScanner::new(),
            });
        }
        Ok(Self { conns })
    }

    /// How many servers (tokens `1..=len`).
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// The connection a token names, if it names one.
    pub fn index_of(&self, token: Token) -> Option<usize> {
        token.0.checked_sub(1).filter(|i| *i < self.conns.len())
    }

    /// Queues a request for the server that owns `key`'s slot.
    pub fn send(&mut self, key: &[u8], raw: &[u8], ticket: Ticket) {
        let index = server_for(key, self.conns.len());
        if let Some(conn) = self.conns.get_mut(index) {
            conn.out.extend_from_slice(raw);
            conn.tickets.push_back(ticket);
        }
    }

    /// Reads what the server sent and hands every whole reply to its client.
    pub fn read(&mut self, index: usize, space: &mut [u8], clients: &mut Clients) -> Result<()> {
        let Some(conn) = self.conns.get_mut(index) else {
            return Ok(());
        };
        let open = read_available(&mut conn.stream, space, &mut conn.inbound)
            .with_context(|| format!("{}: read", conn.addr))?;
        if !open {
            bail!("{}: the server closed the connection", conn.addr);
        }
        while let Some(frame) = conn
            .scanner
            .scan(&conn.inbound)
            .with_context(|| format!("{}: malformed reply", conn.addr))?
        {
            let reply = conn.inbound.split_to(frame.len).freeze();
            let ticket = conn
                .tickets
                .pop_front()
                .with_context(|| format!("{}: a reply nobody asked for", conn.addr))?;
            clients.deliver(ticket, reply);
        }
        Ok(())
    }

    /// Writes what is queued for one server, as far as the socket takes it.
    pub fn flush(&mut self, index: usize) -> Result<()> {
        let Some(conn) = self.conns.get_mut(index) else {
            return Ok(());
        };
        write_pending(&mut conn.stream, &mut conn.out, &mut conn.written)
            .with_context(|| format!("{}: write", conn.addr))
    }

    /// [`Servers::flush`] for every server with something queued.
    pub fn flush_all(&mut self) -> Result<()> {
        for index in 0..self.conns.len() {
            self.flush(index)?;
        }
        Ok(())
    }
}
