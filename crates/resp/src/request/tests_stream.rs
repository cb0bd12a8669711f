//! Streaming tests of the request parser: results independent of how input
//! is split, linear work for requests arriving in many pieces, huge
//! payloads, and a seeded randomized round trip.

use super::tests::{Outcome, args_of, check_raw, run, run_pieces};
use super::*;

/// A mix of every request form, pipelined.
fn mixed_input() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\n\0x\r\n");
    v.extend_from_slice(b"*0\r\n");
    v.extend_from_slice(b"PING\r\n");
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(b"*-1\r\n");
    v.extend_from_slice(b"SET 'a b' \"c\\x41\\n\" \"\"\n");
    v.extend_from_slice(b"*2\r\n$0\r\n\r\n$2\r\n\r\n\r\n");
    v.extend_from_slice(b"  \t \r\n");
    v.extend_from_slice(b"*1\r\n$12\r\nhello world!\r\n");
    v.extend_from_slice(b"*2\rX$3\rYGETab$1\r\nkZZ");
    v
}

fn assert_split_invariant(input: &[u8]) {
    let whole = run(input);
    for k in 0..=input.len() {
        let (a, b) = input.split_at(k);
        let split = run_pieces(Limits::default(), [a, b]);
        assert_eq!(
            split,
            whole,
            "split at {k} of {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn every_split_point_parses_identically() {
    let input = mixed_input();
    let whole = run(&input);
    assert_eq!(whole.reqs.len(), 6);
    assert_eq!(whole.err, None);
    assert_eq!(whole.left, 0);
    assert_split_invariant(&input);
}

#[test]
fn every_pair_of_split_points_parses_identically() {
    let input: &[u8] = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nSET \"a\" 'b'\r\n*0\r\n*1\r\n$0\r\n\r\n";
    let whole = run(input);
    assert_eq!(whole.reqs.len(), 3);
    for i in 0..=input.len() {
        for j in i..=input.len() {
            let pieces = [&input[..i], &input[i..j], &input[j..]];
            assert_eq!(
                run_pieces(Limits::default(), pieces),
                whole,
                "splits {i}, {j}"
            );
        }
    }
}

#[test]
fn byte_at_a_time() {
    let input = mixed_input();
    let whole = run(&input);
    let bytes = run_pieces(Limits::default(), input.chunks(1));
    assert_eq!(bytes, whole);
}

#[test]
fn errors_are_split_invariant() {
    let inputs: &[&[u8]] = &[
        b"PING\r\n*abc\r\n",
        b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n",
        b"*2\r\n$3\r\nGET\r\nX\r\n",
        b"*1\r\n\r\n",
        b"ECHO \"abc\r\n",
        b"*1\r\n$-1\r\n",
        b"GET a\r\nSET 'x'y\n",
    ];
    for input in inputs {
        let whole = run(input);
        assert!(whole.err.is_some(), "{input:?}");
        assert_split_invariant(input);
    }
}

#[test]
fn limits_are_split_invariant() {
    let limits = Limits {
        max_inline_len: 8,
        ..Limits::default()
    };
    let inputs: &[&[u8]] = &[
        b"12345678\n",
        b"123456789\n",
        b"1234567\r\n",
        b"*1\r\n$12345678\r\n",
        b"*1\r\n$1234567\r\n",
        b"*1234567\r\n",
        b"*12345678\r\n",
        b"*1\r\n$5\r\n123456789012345",
        b"GET \0 xxxxxxxxx\n",
    ];
    for input in inputs {
        let whole = run_pieces(limits, [*input]);
        for k in 0..=input.len() {
            let (a, b) = input.split_at(k);
            assert_eq!(run_pieces(limits, [a, b]), whole, "{input:?} split at {k}");
        }
        assert_eq!(
            run_pieces(limits, input.chunks(1)),
            whole,
            "{input:?} bytewise"
        );
    }
}

/// Builds `*n` with `n` one-byte arguments.
fn many_args(n: usize) -> Vec<u8> {
    let mut input = format!("*{n}\r\n").into_bytes();
    for i in 0..n {
        input.extend_from_slice(b"$1\r\n");
        input.push(b'a' + (i % 26) as u8);
        input.extend_from_slice(b"\r\n");
    }
    input
}

/// Feeds `input` in `chunk`-byte pieces; returns the request and the bytes
/// the line searches examined.
fn feed_counting(input: &[u8], chunk: usize) -> (Request, usize) {
    SEARCHED.with(|n| n.set(0));
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut done = None;
    for piece in input.chunks(chunk) {
        assert!(done.is_none());
        buf.extend_from_slice(piece);
        done = parser.next(&mut buf).unwrap();
    }
    (done.unwrap(), SEARCHED.with(std::cell::Cell::get))
}

#[test]
fn million_arguments_incrementally_is_linear() {
    let n = 1_000_000;
    let input = many_args(n);
    let (req, searched) = feed_counting(&input, 4096);
    assert_eq!(req.argc(), n);
    assert_eq!(req.arg(n - 1), Some(&[b'a' + ((n - 1) % 26) as u8][..]));
    assert_eq!(req.raw().len(), input.len());
    // Each header line is searched once: far less than the input itself.
    assert!(
        searched <= input.len(),
        "searched {searched} of {}",
        input.len()
    );
}

#[test]
fn chunk_sizes_do_not_change_the_work() {
    let n = 200_000;
    let input = many_args(n);
    let start = std::time::Instant::now();
    let mut work = Vec::new();
    for chunk in [4095, 4096, 4097, 1 << 16, 7] {
        let (req, searched) = feed_counting(&input, chunk);
        assert_eq!(req.argc(), n);
        work.push(searched);
    }
    let min = *work.iter().min().unwrap();
    let max = *work.iter().max().unwrap();
    assert!(max <= min + input.len() / 7, "work per chunking: {work:?}");
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn long_inline_line_in_pieces_is_searched_once() {
    let mut line = vec![b'x'; 60_000];
    line.extend_from_slice(b" y\r\n");
    SEARCHED.with(|n| n.set(0));
    let out = run_pieces(Limits::default(), line.chunks(100));
    assert_eq!(out.reqs.len(), 1);
    assert!(SEARCHED.with(std::cell::Cell::get) <= line.len());
}

#[test]
fn huge_bulk_in_64k_chunks() {
    const LEN: usize = 300 * 1024 * 1024;
    let header = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${LEN}\r\n").into_bytes();
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::from(&header[..]);
    assert_eq!(parser.next(&mut buf), Ok(None));
    let total = header.len() + LEN + 2;
    assert_eq!(parser.needed(), total);
    buf.reserve(parser.needed() - buf.len());
    let base = buf.as_ptr();
    SEARCHED.with(|n| n.set(0));
    let chunk = vec![0x5a_u8; 64 * 1024];
    let mut left = LEN;
    while left > 0 {
        let n = left.min(chunk.len());
        buf.extend_from_slice(&chunk[..n]);
        left -= n;
        assert_eq!(parser.next(&mut buf), Ok(None));
    }
    buf.extend_from_slice(b"\r");
    assert_eq!(parser.next(&mut buf), Ok(None));
    buf.extend_from_slice(b"\n");
    let req = parser.next(&mut buf).unwrap().unwrap();
    // The payload was never searched, and never moved (one reservation).
    assert_eq!(SEARCHED.with(std::cell::Cell::get), 0);
    assert_eq!(req.raw().as_ptr(), base);
    assert_eq!(req.raw().len(), total);
    let value = req.arg_bytes(2).unwrap();
    assert_eq!(value.len(), LEN);
    assert!(value.iter().all(|&b| b == 0x5a));
}

/// xorshift64*: a fixed-seed generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_arg(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(20) {
        0 => 0,
        1 => 1000 + rng.below(20_000),
        _ => rng.below(24),
    };
    let alphabet: &[u8] = b"ab\r\n\0 \"'\\x*$:";
    (0..len)
        .map(|_| match rng.below(3) {
            0 => alphabet[rng.below(alphabet.len())],
            _ => rng.next() as u8,
        })
        .collect()
}

/// Inline form of `args`: each argument double-quoted, unsafe bytes as \xHH.
fn inline_form(args: &[Vec<u8>]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        line.push(b'"');
        for &b in arg {
            if b.is_ascii_alphanumeric() {
                line.push(b);
            } else {
                line.extend_from_slice(format!("\\x{b:02x}").as_bytes());
            }
        }
        line.push(b'"');
    }
    line.extend_from_slice(b"\r\n");
    line
}

#[test]
fn randomized_round_trip() {
    let mut rng = Rng(0x5107_3a11_d00d_f00d);
    for round in 0..150 {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for _ in 0..1 + rng.below(12) {
            if rng.below(5) == 0 {
                let empty: [&[u8]; 4] = [b"*0\r\n", b"\r\n", b"*-1\r\n", b"  \n"];
                input.extend_from_slice(empty[rng.below(4)]);
            }
            let argc = 1 + rng.below(8);
            let args: Vec<Vec<u8>> = (0..argc).map(|_| random_arg(&mut rng)).collect();
            let inline = inline_form(&args);
            if rng.below(3) == 0 && inline.len() <= Limits::default().max_inline_len {
                input.extend(inline);
            } else {
                let mut out = BytesMut::new();
                crate::encode::command(&mut out, &args);
                input.extend_from_slice(&out);
            }
            expected.push(args);
        }
        let whole = run(&input);
        assert_eq!(whole.err, None, "round {round}");
        assert_eq!(whole.left, 0, "round {round}");
        assert_eq!(whole.reqs, expected, "round {round}");
        let mut chunks = Vec::new();
        let mut at = 0;
        while at < input.len() {
            let n = match rng.below(4) {
                0 => 1,
                1 => 1 + rng.below(8),
                2 => 1 + rng.below(512),
                _ => 1 + rng.below(40_000),
            };
            let end = (at + n).min(input.len());
            chunks.push(&input[at..end]);
            at = end;
        }
        let split: Outcome = run_pieces(Limits::default(), chunks);
        assert_eq!(split, whole, "round {round}");
    }
}

#[test]
fn random_requests_reencode_to_their_raw() {
    let mut rng = Rng(42);
    for _ in 0..200 {
        let args: Vec<Vec<u8>> = (0..1 + rng.below(6))
            .map(|_| random_arg(&mut rng))
            .collect();
        let req = Request::from_args(&args);
        check_raw(&req);
        assert_eq!(args_of(&req), args);
    }
}

/// Header lines at the edges of the fast header path (`quick_header`): the
/// whole-buffer parse takes it, parses split inside the header do not, and
/// both must agree, errors included.
#[test]
fn header_edge_cases_are_split_invariant() {
    let cases: &[&[u8]] = &[
        b"*1\r\n$0\r\n\r\n",
        b"*1\r\n$03\r\nabc\r\n",
        b"*1\r\n$+3\r\nabc\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$3\r\rabc\r\n",
        b"*1\r\n$3\rXabcYZ",
        b"*01\r\n$1\r\na\r\n",
        b"*+1\r\n$1\r\na\r\n",
        b"*1\r\n$999999999999999999\r\n",
        b"*1\r\n$9999999999999999999\r\n",
        b"*1\r\n$1 \r\na\r\n",
        b"*1\r\n$\r\n",
        b"*999999999999999999\r\n",
        b"*2\r\n$1\r\na\r\n%1\r\nb\r\n",
    ];
    for case in cases {
        assert_split_invariant(case);
    }
}
