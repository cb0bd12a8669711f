//! The two socket loops every connection of the event loop runs, clients and
//! servers alike: read all a socket has, and write a buffer as far as the
//! socket takes it.
//!
//! Invariants: a read stops at the first read that does not fill the space
//! offered (edge-triggered: the socket is drained, or the next event says
//! so); a write that takes nothing of a non-empty buffer is an error, never
//! a retry (it would loop for ever).

use std::io::{self, ErrorKind, Read, Write};

use bytes::BytesMut;

/// Appends what `stream` has to `inbound`, through `space`; `Ok(false)` at
/// the end of the stream.
pub fn read_available(
    stream: &mut impl Read,
    space: &mut [u8],
    inbound: &mut BytesMut,
) -> io::Result<bool> {
    loop {
        match stream.read(space) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                inbound.extend_from_slice(space.get(..n).unwrap_or_default());
                if n < space.len() {
                    return Ok(true);
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(true),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// Writes `out[*written..]` as far as `stream` takes it; once all of it is
/// written, empties `out` for the next turn.
pub fn write_pending(
    stream: &mut impl Write,
    out: &mut Vec<u8>,
    written: &mut usize,
) -> io::Result<()> {
    while let Some(rest) = out.get(*written..).filter(|rest| !rest.is_empty()) {
        match stream.write(rest) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => *written += n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    out.clear();
    *written = 0;
    Ok(())
}
