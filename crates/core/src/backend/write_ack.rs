//! Write acknowledgement (`cluster.write_ack`): the pure parts of the group
//! commit that connection tasks run ([`super::conn`]).
//!
//! A connection follows every batch that carries writes with one `WAIT n t`
//! and holds the writes' replies until it answers: released as they are if
//! at least `n` replicas confirmed, else replaced by an error saying the
//! write is not confirmed (it did run on the master). Replies that show
//! nothing was written are never held: errors, and on dedicated connections
//! (blocking commands, WATCHed EXEC) null replies — a timeout or a
//! transaction aborted by its WATCH.

use bytes::{Bytes, BytesMut};

/// Write acknowledgement: writes are confirmed with `WAIT` on their own
/// connection before their replies are released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteAck {
    /// Replicas that must have each write.
    pub replicas: u32,
    /// How long the node waits for them (`WAIT`'s timeout).
    pub timeout_ms: u64,
}

impl WriteAck {
    /// `WAIT replicas timeout_ms` as it goes on the wire.
    #[must_use]
    pub fn wait_command(&self) -> Bytes {
        let mut cmd = BytesMut::new();
        slotway_resp::encode::command(
            &mut cmd,
            &[
                b"WAIT".to_vec(),
                self.replicas.to_string().into_bytes(),
                self.timeout_ms.to_string().into_bytes(),
            ],
        );
        cmd.freeze()
    }

    /// What the held replies become after `wait_reply`: `None` when enough
    /// replicas confirmed (the replies go as they are), else the error each
    /// of them is replaced with.
    #[must_use]
    pub fn refusal(&self, wait_reply: &[u8]) -> Option<Bytes> {
        let confirmed = wait_reply
            .strip_prefix(b":")
            .and_then(|r| r.strip_suffix(b"\r\n"))
            .and_then(slotway_resp::num::string2ll);
        if confirmed.is_some_and(|n| n >= i64::from(self.replicas)) {
            return None;
        }
        let got = confirmed.map_or_else(
            || String::from_utf8_lossy(wait_reply).trim_end().to_owned(),
            |n| n.to_string(),
        );
        Some(Bytes::from(format!(
            "-ERR slotway: write not confirmed by {} replica(s) within {} ms (WAIT answered {got})\r\n",
            self.replicas, self.timeout_ms
        )))
    }
}

/// Whether the last frame (`last` bytes long) of `frame` is a null reply.
#[must_use]
pub fn is_null_reply(frame: &[u8], last: usize) -> bool {
    let tail = frame
        .get(frame.len().saturating_sub(last)..)
        .unwrap_or_default();
    matches!(tail, b"*-1\r\n" | b"$-1\r\n" | b"_\r\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wait_and_its_verdict() {
        let ack = WriteAck {
            replicas: 1,
            timeout_ms: 100,
        };
        assert_eq!(
            &ack.wait_command()[..],
            b"*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n100\r\n"
        );
        assert_eq!(ack.refusal(b":1\r\n"), None);
        assert_eq!(ack.refusal(b":2\r\n"), None);
        let no = ack.refusal(b":0\r\n").unwrap();
        assert!(no.starts_with(
            b"-ERR slotway: write not confirmed by 1 replica(s) within 100 ms (WAIT answered 0)"
        ));
        let err = ack.refusal(b"-NOREPLICAS x\r\n").unwrap();
        assert!(err.ends_with(b"(WAIT answered -NOREPLICAS x)\r\n"));
    }

    #[test]
    fn null_replies_are_recognised_at_the_end_only() {
        // MULTI … EXEC block aborted by WATCH: EXEC's reply is the last frame.
        let block = b"+OK\r\n+QUEUED\r\n*-1\r\n";
        assert!(is_null_reply(block, 5));
        assert!(is_null_reply(b"_\r\n", 3));
        assert!(is_null_reply(b"$-1\r\n", 5));
        assert!(!is_null_reply(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", 18));
        assert!(!is_null_reply(b"+OK\r\n", 5));
        assert!(!is_null_reply(b"", 9));
    }
}
