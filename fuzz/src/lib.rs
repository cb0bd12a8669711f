//! Helpers shared by the fuzz targets: cutting an input into the pieces a
//! socket might deliver, and running the request parser and the reply
//! scanner over pieces so one-shot and resumed runs can be compared.
//!
//! Invariant: everything here is deterministic in its inputs, so a crash
//! found by libFuzzer replays exactly from its artifact file.

use bytes::BytesMut;
use slotway_resp::{FrameInfo, Limits, ProtocolError, ReplyError, ReplyScanner, RequestParser};

/// Piece lengths (each at least 1) that add up to `len`, drawn from `seed`
/// with xorshift: the same seed always cuts the same way. `max_piece` bounds
/// each piece (small pieces exercise resumption at every byte).
pub fn cuts(seed: u64, len: usize, max_piece: usize) -> Vec<usize> {
    let mut state = seed | 1;
    let mut out = Vec::new();
    let mut left = len;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let piece = (state as usize % max_piece.max(1)) + 1;
        let piece = piece.min(left);
        out.push(piece);
        left -= piece;
    }
    out
}

/// What parsing a whole stream gave: the requests (as their arguments), the
/// error that stopped it if any, and the bytes left unparsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub requests: Vec<Vec<Vec<u8>>>,
    pub raws: Vec<Vec<u8>>,
    pub error: Option<ProtocolError>,
    pub left: Vec<u8>,
    pub in_progress: bool,
}

/// Feeds `pieces` of the input to one parser, parsing all it can after each.
pub fn parse_pieces<'a>(
    limits: Limits,
    auth_required: bool,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Parsed {
    let mut parser = RequestParser::new(limits);
    parser.set_auth_required(auth_required);
    let mut buf = BytesMut::new();
    let mut out = Parsed {
        requests: Vec::new(),
        raws: Vec::new(),
        error: None,
        left: Vec::new(),
        in_progress: false,
    };
    for piece in pieces {
        buf.extend_from_slice(piece);
        if out.error.is_some() {
            continue;
        }
        loop {
            match parser.next(&mut buf) {
                Ok(Some(req)) => {
                    out.requests.push(req.args().map(<[u8]>::to_vec).collect());
                    out.raws.push(req.raw().to_vec());
                }
                Ok(None) => break,
                Err(e) => {
                    // A failed parser keeps failing the same way.
                    assert_eq!(parser.next(&mut buf), Err(e.clone()));
                    out.error = Some(e);
                    break;
                }
            }
        }
    }
    out.left = buf.to_vec();
    out.in_progress = parser.in_progress();
    out
}

/// What scanning a whole backend stream gave.
#[derive(Debug, PartialEq, Eq)]
pub struct Scanned {
    pub frames: Vec<FrameInfo>,
    pub error: Option<ReplyError>,
    pub left: usize,
}

/// Feeds `pieces` to one scanner, splitting off every complete frame.
pub fn scan_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Scanned {
    let mut scanner = ReplyScanner::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Scanned {
        frames: Vec::new(),
        error: None,
        left: 0,
    };
    for piece in pieces {
        buf.extend_from_slice(piece);
        if out.error.is_some() {
            continue;
        }
        loop {
            match scanner.scan(&buf) {
                Ok(Some(info)) => {
                    assert!(info.len > 0 && info.len <= buf.len(), "{info:?}");
                    out.frames.push(info);
                    buf.drain(..info.len);
                }
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            }
        }
    }
    out.left = buf.len();
    out
}
