//! Request parser: any bytes, cut at any points, give the same requests and
//! the same protocol error as the same bytes parsed in one piece; every
//! request's `raw` is a canonical multibulk that re-parses to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slotway_fuzz::{cuts, parse_pieces};
use slotway_resp::{Limits, Request};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((seed, input)) = rest.split_first_chunk::<8>() else {
        return;
    };
    // Small limits reach the limit checks with small inputs.
    let limits = if mode & 1 == 0 {
        Limits::default()
    } else {
        Limits {
            max_bulk_len: 64,
            max_multibulk_len: 8,
            max_inline_len: 32,
        }
    };
    let auth_required = mode & 2 != 0;
    let max_piece = usize::from(mode >> 2) + 1;

    let whole = parse_pieces(limits, auth_required, [input]);
    let sizes = cuts(u64::from_le_bytes(*seed), input.len(), max_piece);
    let mut at = 0;
    let pieces = sizes.iter().map(|&n| {
        let piece = &input[at..at + n];
        at += n;
        piece
    });
    let split = parse_pieces(limits, auth_required, pieces);
    assert_eq!(whole, split, "resumed parsing differs from one-shot");

    // What is left unparsed is a suffix of the input; every request is
    // non-empty and its `raw` is exactly the canonical encoding of its
    // arguments, which parses back to the same request with nothing left.
    assert!(input.ends_with(&whole.left));
    for (args, raw) in whole.requests.iter().zip(&whole.raws) {
        assert!(
            !args.is_empty(),
            "empty requests are skipped, never returned"
        );
        assert_eq!(&Request::from_args(args).raw()[..], &raw[..]);
        let again = parse_pieces(Limits::default(), false, [&raw[..]]);
        assert_eq!(again.requests, vec![args.clone()]);
        assert!(again.error.is_none() && again.left.is_empty());
    }
});
