//! Reply scanner: any bytes, cut at any points, give the same frames and the
//! same error as one-shot scanning; every frame the scanner delimits is one
//! frame for the decoder too, and re-encoding a decoded value is stable.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use slotway_fuzz::{cuts, scan_pieces};
use slotway_resp::{Value, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((seed, input)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let whole = scan_pieces([input]);
    let sizes = cuts(
        u64::from_le_bytes(*seed),
        input.len(),
        usize::from(mode) + 1,
    );
    let mut at = 0;
    let pieces = sizes.iter().map(|&n| {
        let piece = &input[at..at + n];
        at += n;
        piece
    });
    let split = scan_pieces(pieces);
    assert_eq!(whole, split, "resumed scanning differs from one-shot");

    let mut at = 0;
    for frame in &whole.frames {
        let bytes = &input[at..at + frame.len];
        at += frame.len;
        match Value::decode(bytes) {
            // The decoder validates scalars the scanner only delimits.
            Err(_) => {}
            Ok(None) => panic!("scanner saw a whole frame, decoder wants more"),
            Ok(Some((value, n))) => {
                assert_eq!(n, frame.len, "decoder and scanner disagree on the end");
                let mut out = BytesMut::new();
                encode::value(&mut out, &value);
                // Line types turn CR/LF into spaces when encoded, so compare
                // the second encoding with the first, not with the input.
                let (again, n) = Value::decode(&out).unwrap().unwrap();
                assert_eq!(n, out.len());
                let mut out2 = BytesMut::new();
                encode::value(&mut out2, &again);
                assert_eq!(out, out2, "re-encoding is not stable");
            }
        }
    }
});
