//! `--tasks`: the same minimal proxy in the shape Slotway's data path has,
//! on tokio's current-thread runtime: a task per client connection and a
//! task per server connection, requests handed over through a channel per
//! server and replies through a channel per client.
//!
//! Why it exists: set beside the event-loop floor (`main.rs`), it shows what
//! that shape costs by itself, with none of Slotway's features, so a gap
//! between Slotway and the floor splits into "the runtime and task shape"
//! and "everything Slotway does besides".
//!
//! Invariants as the event loop's: replies in each client's request order
//! (`order::ReplyOrder`); a reply for a client that has gone is dropped
//! (its channel is closed); a broken server connection ends the process.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::{Bytes, BytesMut};
use slotway_resp::{Limits, ReplyScanner, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::order::{ReplyOrder, server_for};

/// A request for a server: its bytes and where its reply goes.
struct Job {
    payload: Bytes,
    reply_to: UnboundedSender<(u64, Bytes)>,
    seq: u64,
}

/// Runs the task-shaped floor until the listener or a server fails.
pub fn run(listen: SocketAddr, addrs: &[SocketAddr]) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(serve(listen, addrs))
}

async fn serve(listen: SocketAddr, addrs: &[SocketAddr]) -> Result<()> {
    let (failed_tx, mut failed) = unbounded_channel::<anyhow::Error>();
    let mut servers = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))?;
        stream
            .set_nodelay(true)
            .with_context(|| format!("{addr}: TCP_NODELAY"))?;
        let (tx, rx) = unbounded_channel();
        let failed_tx = failed_tx.clone();
        let addr = *addr;
        tokio::spawn(async move {
            if let Err(err) = server(stream, rx).await {
                let _ = failed_tx.send(err.context(addr));
            }
        });
        servers.push(tx);
    }
    let servers: Arc<[UnboundedSender<Job>]> = servers.into();
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("bind {listen}"))?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let servers = Arc::clone(&servers);
                    tokio::spawn(client(stream, servers));
                }
                // A client gone before its accept is its own business; any
                // other failure (out of descriptors) would repeat at once,
                // so it ends the run instead of spinning.
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionAborted => {}
                Err(err) => return Err(err).context("accept"),
            },
            Some(err) = failed.recv() => return Err(err),
        }
    }
}

/// One client: reads and routes its requests, writes its answered prefix.
async fn client(mut stream: TcpStream, servers: Arc<[UnboundedSender<Job>]>) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let (reply_to, mut replies) = unbounded_channel::<(u64, Bytes)>();
    let mut inbound = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::new(Limits::default());
    let mut order = ReplyOrder::default();
    let mut out = Vec::with_capacity(16 * 1024);
    loop {
        tokio::select! {
            read = stream.read_buf(&mut inbound) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
                loop {
                    let request = match parser.next(&mut inbound) {
                        Ok(Some(request)) => request,
                        Ok(None) => break,
                        Err(_) => return,
                    };
                    let seq = order.reserve();
                    let index = server_for(request.arg(1).unwrap_or_default(), servers.len());
                    let job = Job { payload: request.into_raw(), reply_to: reply_to.clone(), seq };
                    if servers.get(index).is_none_or(|server| server.send(job).is_err()) {
                        return;
                    }
                }
            }
            Some(first) = replies.recv() => {
                let mut next = Some(first);
                while let Some((seq, reply)) = next {
                    order.fill(seq, reply);
                    next = replies.try_recv().ok();
                }
                order.drain_into(&mut out);
                if stream.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
            }
        }
    }
}

/// One server connection: writes what is queued, matches replies in order.
async fn server(mut stream: TcpStream, mut jobs: UnboundedReceiver<Job>) -> Result<()> {
    let mut waiting: VecDeque<(UnboundedSender<(u64, Bytes)>, u64)> = VecDeque::with_capacity(1024);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut inbound = BytesMut::with_capacity(64 * 1024);
    let mut scanner = ReplyScanner::new();
    loop {
        tokio::select! {
            Some(first) = jobs.recv() => {
                let mut next = Some(first);
                while let Some(job) = next {
                    out.extend_from_slice(&job.payload);
                    waiting.push_back((job.reply_to, job.seq));
                    next = jobs.try_recv().ok();
                }
                stream.write_all(&out).await.context("write")?;
                out.clear();
            }
            read = stream.read_buf(&mut inbound) => {
                if read.context("read")? == 0 {
                    bail!("the server closed the connection");
                }
                while let Some(frame) = scanner.scan(&inbound).context("malformed reply")? {
                    let reply = inbound.split_to(frame.len).freeze();
                    let (reply_to, seq) = waiting.pop_front().context("a reply nobody asked for")?;
                    // The client may have gone: its reply is dropped.
                    let _ = reply_to.send((seq, reply));
                }
            }
        }
    }
}
