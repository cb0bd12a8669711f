//! The floor proxy's clients: a slab of connections, each with its parser,
//! its reply order (`order::ReplyOrder`) and its write buffer.
//!
//! Invariants: a client's replies are written in its request order (the
//! reply order's invariant). A closed client's slab entry gets a new
//! generation, so replies still in flight for it are dropped, never given to
//! the next client on that entry.

use bytes::{Bytes, BytesMut};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use slotway_resp::{Limits, RequestParser};

use crate::io::{read_available, write_pending};
use crate::order::ReplyOrder;
use crate::server::Servers;

/// Which reply slot a request fills: client entry, its generation, its seq.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    index: usize,
    generation: u32,
    seq: u64,
}

struct Client {
    stream: TcpStream,
    inbound: BytesMut,
    parser: RequestParser,
    order: ReplyOrder,
    out: Vec<u8>,
    written: usize,
    dirty: bool,
}

struct Entry {
    generation: u32,
    client: Option<Client>,
}

/// Every client, by token `base + index`.
pub struct Clients {
    base: usize,
    entries: Vec<Entry>,
    free: Vec<usize>,
    /// Clients with replies or bytes to write this loop turn.
    dirty: Vec<usize>,
}

impl Clients {
    /// Clients' tokens start at `base`.
    pub fn new(base: usize) -> Self {
        Self {
            base,
            entries: Vec::new(),
            free: Vec::new(),
            dirty: Vec::new(),
        }
    }

    /// Takes a newly accepted connection.
    pub fn add(&mut self, mut stream: TcpStream, registry: &Registry) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.entries.push(Entry {
                generation: 0,
                client: None,
            });
            self.entries.len() - 1
        });
        if stream.set_nodelay(true).is_err()
            || registry
                .register(
                    &mut stream,
                    Token(self.base + index),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
        {
            self.free.push(index);
            return;
        }
        if let Some(entry) = self.entries.get_mut(index) {
            entry.client = Some(Client {
                stream,
                inbound: BytesMut::with_capacity(16 * 1024),
                parser: RequestParser::new(Limits::default()),
                order: ReplyOrder::default(),
                out: Vec::with_capacity(16 * 1024),
                written: 0,
                dirty: false,
            });
        }
    }

    /// A client's socket is ready: reads and queues its requests (when it
    /// is readable), and has anything it could not write yet written this
    /// turn.
    pub fn serve(
        &mut self,
        token: Token,
        readable: bool,
        space: &mut [u8],
        servers: &mut Servers,
        registry: &Registry,
    ) {
        let Some(index) = token.0.checked_sub(self.base) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(index) else {
            return;
        };
        let generation = entry.generation;
        let Some(client) = entry.client.as_mut() else {
            return;
        };
        let failed = readable
            && (client.read(space).is_err() || client.route(index, generation, servers).is_err());
        if failed {
            self.close(index, registry);
            return;
        }
        if client.written < client.out.len() && !client.dirty {
            client.dirty = true;
            self.dirty.push(index);
        }
    }

    /// Fills a request's slot with its reply.
    pub fn deliver(&mut self, ticket: Ticket, reply: Bytes) {
        let Some(entry) = self.entries.get_mut(ticket.index) else {
            return;
        };
        if entry.generation != ticket.generation {
            return;
        }
        let Some(client) = entry.client.as_mut() else {
            return;
        };
        client.order.fill(ticket.seq, reply);
        if !client.dirty {
            client.dirty = true;
            self.dirty.push(ticket.index);
        }
    }

    /// Writes every dirty client's answered prefix.
    pub fn flush_dirty(&mut self, registry: &Registry) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &index in &dirty {
            let Some(client) = self.entries.get_mut(index).and_then(|e| e.client.as_mut()) else {
                continue;
            };
            client.dirty = false;
            if client.flush().is_err() {
                self.close(index, registry);
            }
        }
        dirty.clear();
        self.dirty = dirty;
    }

    fn close(&mut self, index: usize, registry: &Registry) {
        if let Some(entry) = self.entries.get_mut(index)
            && let Some(mut client) = entry.client.take()
        {
            // The socket closes when `client` drops; deregistering first keeps
            // epoll's interest list exact.
            let _ = registry.deregister(&mut client.stream);
            entry.generation = entry.generation.wrapping_add(1);
            self.free.push(index);
        }
    }
}

/// The client closed, broke, or sent what Redis refuses.
struct Gone;

impl Client {
    fn read(&mut self, space: &mut [u8]) -> Result<(), Gone> {
        match read_available(&mut self.stream, space, &mut self.inbound) {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(Gone),
        }
    }

    fn route(&mut self, index: usize, generation: u32, servers: &mut Servers) -> Result<(), Gone> {
        while let Some(request) = self.parser.next(&mut self.inbound).map_err(|_| Gone)? {
            let seq = self.order.reserve();
            let key = request.arg(1).unwrap_or_default();
            servers.send(
                key,
                request.raw(),
                Ticket {
                    index,
                    generation,
                    seq,
                },
            );
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Gone> {
        self.order.drain_into(&mut self.out);
        write_pending(&mut self.stream, &mut self.out, &mut self.written).map_err(|_| Gone)
    }
}
