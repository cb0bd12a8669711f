//! The frames of pub/sub confirmations: recognising them among messages,
//! rewriting their counts, and making them (the proxy answers confirmations
//! itself when a subscriber connection is lost). Pure.

use bytes::{BufMut, Bytes, BytesMut};
use slotway_resp::{Protocol, Value, encode};

use crate::merge;

/// A confirmation frame as Redis sends it: `[kind, channel or nil, count]`.
pub(super) fn confirmation(
    protocol: Protocol,
    kind: &[u8],
    channel: Option<&[u8]>,
    count: usize,
) -> Bytes {
    let mut out = BytesMut::with_capacity(32 + kind.len() + channel.map_or(0, <[u8]>::len));
    out.put_u8(if protocol == Protocol::Resp3 {
        b'>'
    } else {
        b'*'
    });
    out.put_slice(b"3\r\n");
    encode::bulk(&mut out, kind);
    match channel {
        Some(c) => encode::bulk(&mut out, c),
        None => encode::null(&mut out, protocol),
    }
    encode::integer(&mut out, i64::try_from(count).unwrap_or(i64::MAX));
    out.freeze()
}

/// For a (un)subscribe confirmation: whether it is a shard-channel one.
/// `None` for messages.
pub(super) fn confirmation_family(frame: &Bytes) -> Option<bool> {
    let first = merge::elements(frame)?.into_iter().next()?;
    let kind = Value::decode(&first).ok()??.0;
    let kind = kind.as_bytes()?.to_ascii_lowercase();
    kind.ends_with(b"subscribe")
        .then(|| kind.starts_with(b"ssubscribe") || kind.starts_with(b"sunsubscribe"))
}

/// The channel of a `sunsubscribe` frame.
pub(super) fn unsubscribed_channel(frame: &Bytes) -> Option<Bytes> {
    let parts = merge::elements(frame)?;
    let kind = Value::decode(parts.first()?).ok()??.0;
    if !kind.as_bytes()?.eq_ignore_ascii_case(b"sunsubscribe") {
        return None;
    }
    let channel = Value::decode(parts.get(1)?).ok()??.0;
    channel.as_bytes().map(Bytes::copy_from_slice)
}

/// The same confirmation with its subscription count replaced.
pub(super) fn with_count(frame: &Bytes, count: usize) -> Option<Bytes> {
    let parts = merge::elements(frame)?;
    let (kind, channel) = (parts.first()?, parts.get(1)?);
    let mut out = BytesMut::with_capacity(frame.len() + 8);
    out.put_u8(*frame.first()?);
    out.put_slice(b"3\r\n");
    out.put_slice(kind);
    out.put_slice(channel);
    encode::integer(&mut out, i64::try_from(count).ok()?);
    Some(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthesized_confirmations_are_redis_frames() {
        assert_eq!(
            &confirmation(Protocol::Resp2, b"subscribe", Some(b"ch"), 2)[..],
            b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:2\r\n"
        );
        assert_eq!(
            &confirmation(Protocol::Resp3, b"unsubscribe", None, 0)[..],
            b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"
        );
        let frame = confirmation(Protocol::Resp2, b"sunsubscribe", Some(b"{s}1"), 4);
        assert_eq!(confirmation_family(&frame), Some(true));
        assert_eq!(unsubscribed_channel(&frame).as_deref(), Some(&b"{s}1"[..]));
        let msg = Bytes::from_static(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n");
        assert_eq!(confirmation_family(&msg), None);
        assert_eq!(unsubscribed_channel(&msg), None);
    }
}
