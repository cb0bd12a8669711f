//! Reading a node's replies on a shared or dedicated connection: splitting
//! complete frames off the input and delivering each to the request it
//! answers (the oldest one waiting), including multi-frame replies
//! (`MULTI … EXEC`), skipped `ASKING` replies, stream (pub/sub) frames and
//! write-ack groups.
//!
//! Invariant: frames are matched strictly in request order, as Redis answers
//! a connection; a push frame never consumes a request.
//!
//! Consecutive replies for the same client (its pipeline, written together)
//! are handed over as one run: one lock of its sink and one wake-up per run
//! instead of per reply. Every run is handed over before
//! [`dispatch_replies`] returns, so no reply waits for the next read.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use slotway_resp::ReplyScanner;
use tracing::warn;

use super::{ConnParams, Wire, is_null_reply};
use crate::backend::sink::{Reply, ReplySink};

/// Where reading the node's replies stands.
pub(super) struct Reader {
    scanner: ReplyScanner,
    /// Bytes at the front of the input that belong to the front request's
    /// reply already (it expects several frames).
    combined: usize,
    /// Frames of the front request's reply found so far.
    frames: u32,
    /// Replies matched to requests so far (the `responses` stat).
    pub(super) delivered: u64,
    /// The run of replies for one client not handed over yet.
    run: Run,
}

impl Reader {
    /// At the start of a connection: nothing read yet.
    pub(super) fn new() -> Self {
        Self {
            scanner: ReplyScanner::new(),
            combined: 0,
            frames: 0,
            delivered: 0,
            run: Run::default(),
        }
    }
}

/// Consecutive replies for one sink, handed over together.
#[derive(Default)]
struct Run {
    sink: Option<Arc<ReplySink>>,
    /// Kept between reads (its capacity is reused: no allocation per run).
    replies: Vec<(u64, Reply)>,
}

impl Run {
    /// Adds a reply, first handing over the run of another sink.
    fn push(&mut self, sink: Arc<ReplySink>, seq: u64, frame: Bytes) {
        if let Some(current) = &self.sink
            && !Arc::ptr_eq(current, &sink)
        {
            self.flush();
        }
        if self.sink.is_none() {
            self.sink = Some(sink);
        }
        self.replies.push((seq, Reply::Frame(frame)));
    }

    /// Hands the run over: one lock, one wake-up.
    fn flush(&mut self) {
        if let Some(sink) = self.sink.take() {
            sink.deliver_many(self.replies.drain(..));
        }
    }
}

/// Splits every complete reply off `input` and delivers it.
pub(super) fn dispatch_replies(
    params: &ConnParams,
    input: &mut BytesMut,
    reader: &mut Reader,
    wire: &mut Wire,
) -> Result<(), String> {
    let result = split_replies(params, input, reader, wire);
    // Every reply found is handed over now, also when the connection is
    // about to fail (its remaining requests get failures after this).
    reader.run.flush();
    result
}

fn split_replies(
    params: &ConnParams,
    input: &mut BytesMut,
    reader: &mut Reader,
    wire: &mut Wire,
) -> Result<(), String> {
    loop {
        let rest = input.get(reader.combined..).unwrap_or_default();
        let info = match reader.scanner.scan(rest) {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(()),
            Err(e) => return Err(format!("malformed reply: {e}")),
        };
        // Stream connections: everything after the handshake is for the
        // subscriber, pushes included.
        if wire.pending.is_empty()
            && let Some((sink, tag)) = &params.stream
        {
            let frame = input.split_to(info.len).freeze();
            sink.deliver(*tag, Reply::Frame(frame));
            continue;
        }
        if info.is_push() && reader.combined == 0 {
            let _ = input.split_to(info.len);
            continue;
        }
        let Some(front) = wire.pending.front_mut() else {
            return Err("reply without a request".to_owned());
        };
        if front.skip > 0 {
            front.skip -= 1;
            let _ = input.split_to(info.len);
            continue;
        }
        reader.combined += info.len;
        reader.frames += 1;
        if reader.frames < front.frames {
            continue;
        }
        let frame = input.split_to(reader.combined).freeze();
        reader.combined = 0;
        reader.frames = 0;
        if let Some(p) = wire.pending.pop_front() {
            // Only clients' requests count as responses (not the
            // handshake, not the write-ack WAITs).
            if p.to.is_some() {
                reader.delivered += 1;
            }
            if p.wait {
                release_held(wire, &frame);
                continue;
            }
            if p.probe {
                wire.ready = true;
                continue;
            }
            // On a dedicated connection a write is a blocking command or a
            // WATCHed EXEC: a null reply means it wrote nothing (timed out,
            // transaction aborted), so it is not held either.
            let wrote_nothing =
                info.is_error() || (params.abort.is_some() && is_null_reply(&frame, info.len));
            match p.to {
                // A write's reply waits for its group's WAIT; an error reply
                // wrote nothing and goes at once.
                Some((sink, seq)) if p.hold && !wrote_nothing => {
                    wire.held.push((sink, seq, frame));
                }
                Some((sink, seq)) => reader.run.push(sink, seq, frame),
                // A client's own credentials refused (password changed,
                // user removed): never serve it as the node's `default`.
                None if info.is_error() && p.strict_auth => {
                    return Err("the node refused the client's credentials".to_owned());
                }
                None if info.is_error() => {
                    warn!(node = %params.addr, reply = %String::from_utf8_lossy(&frame).trim_end(),
                        "node refused the connection handshake (AUTH / SELECT / HELLO 3 / READONLY)");
                }
                None => {}
            }
        }
    }
}

/// The group's WAIT answered: release the held write replies if enough
/// replicas confirmed, else replace them with an error saying so (the write
/// ran on the master; its durability is not confirmed).
fn release_held(wire: &mut Wire, wait_reply: &Bytes) {
    let Some((_, ack)) = wire.wait_cmd else {
        return;
    };
    let refusal = ack.refusal(wait_reply);
    for (sink, seq, frame) in wire.held.drain(..) {
        let reply = refusal.clone().unwrap_or(frame);
        sink.deliver(seq, Reply::Frame(reply));
    }
}
