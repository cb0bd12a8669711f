//! Contract tests of the reply scanner: every RESP2/RESP3 type, nesting and
//! attributes, every split point, malformed input, depth cap, linear work.

use super::*;

/// Scans `pieces` arriving one after another, splitting off every frame;
/// returns the frames and the bytes left.
fn scan_pieces<'a>(
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(Vec<FrameInfo>, Vec<u8>), ReplyError> {
    let mut scanner = ReplyScanner::new();
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Some(frame) = scanner.scan(&buf)? {
            buf.drain(..frame.len);
            frames.push(frame);
        }
    }
    Ok((frames, buf))
}

fn scan_one(input: &[u8]) -> Result<Option<FrameInfo>, ReplyError> {
    ReplyScanner::new().scan(input)
}

fn frame(len: usize, kind: u8) -> FrameInfo {
    FrameInfo { len, kind }
}

/// One complete frame of each kind, with the kind the scanner must report.
fn samples() -> Vec<(&'static [u8], u8)> {
    vec![
        (b"+OK\r\n", b'+'),
        (b"+\r\n", b'+'),
        (b"-ERR unknown command\r\n", b'-'),
        (b"-MOVED 3999 127.0.0.1:6381\r\n", b'-'),
        (b":0\r\n", b':'),
        (b":-9223372036854775808\r\n", b':'),
        (b"$5\r\nhello\r\n", b'$'),
        (b"$0\r\n\r\n", b'$'),
        (b"$4\r\n\r\n\r\n\r\n", b'$'),
        (b"$3\r\n\0\xff\n\r\n", b'$'),
        (b"$-1\r\n", b'$'),
        (b"*-1\r\n", b'*'),
        (b"*0\r\n", b'*'),
        (b"*2\r\n$3\r\nfoo\r\n:42\r\n", b'*'),
        (b"*3\r\n*1\r\n+a\r\n*0\r\n$-1\r\n", b'*'),
        (b"_\r\n", b'_'),
        (b",3.14\r\n", b','),
        (b",-inf\r\n", b','),
        (b"#t\r\n", b'#'),
        (b"#f\r\n", b'#'),
        (b"(3492890328409238509324850943850943825024385\r\n", b'('),
        (b"!21\r\nSYNTAX invalid syntax\r\n", b'!'),
        (b"=15\r\ntxt:Some string\r\n", b'='),
        (b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", b'%'),
        (b"%0\r\n", b'%'),
        (b"~3\r\n+a\r\n+b\r\n+c\r\n", b'~'),
        (b">3\r\n+message\r\n+chan\r\n$5\r\nhello\r\n", b'>'),
        (b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n", b'*'),
        (b"|0\r\n+OK\r\n", b'+'),
        (b"|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n-ERR x\r\n", b'-'),
        (b"*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n", b'*'),
        (b"%1\r\n~2\r\n:1\r\n:2\r\n%1\r\n*1\r\n_\r\n>0\r\n", b'%'),
        (b"*1\r\n|1\r\n*1\r\n|0\r\n:1\r\n:2\r\n$1\r\nx\r\n", b'*'),
    ]
}

#[test]
fn every_type_is_one_frame() {
    for (input, kind) in samples() {
        assert_eq!(
            scan_one(input),
            Ok(Some(frame(input.len(), kind))),
            "{input:?}"
        );
        // Followed by another frame, only the first is reported.
        let mut two = input.to_vec();
        two.extend_from_slice(b"+NEXT\r\n");
        assert_eq!(
            scan_one(&two),
            Ok(Some(frame(input.len(), kind))),
            "{input:?}"
        );
    }
}

#[test]
fn every_strict_prefix_is_incomplete() {
    for (input, _) in samples() {
        for k in 0..input.len() {
            assert_eq!(scan_one(&input[..k]), Ok(None), "{input:?} cut at {k}");
        }
    }
}

#[test]
fn attribute_inside_aggregate_is_not_an_element() {
    // Without the attribute counting, `*1` ends after `:1`.
    let input = b"*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n";
    assert_eq!(scan_one(input), Ok(Some(frame(input.len() - 4, b'*'))));
}

#[test]
fn frame_info_flags() {
    assert!(frame(1, b'-').is_error());
    assert!(frame(1, b'!').is_error());
    assert!(!frame(1, b'+').is_error());
    assert!(frame(1, b'>').is_push());
    assert!(!frame(1, b'*').is_push());
}

fn all_samples() -> Vec<u8> {
    samples()
        .iter()
        .flat_map(|(s, _)| s.iter().copied())
        .collect()
}

#[test]
fn every_split_point_finds_the_same_frames() {
    let input = all_samples();
    let (whole, left) = scan_pieces([&input[..]]).unwrap();
    assert_eq!(whole.len(), samples().len());
    assert!(left.is_empty());
    for k in 0..=input.len() {
        let (a, b) = input.split_at(k);
        assert_eq!(scan_pieces([a, b]).unwrap().0, whole, "split at {k}");
    }
    assert_eq!(scan_pieces(input.chunks(1)).unwrap().0, whole);
    assert_eq!(scan_pieces(input.chunks(7)).unwrap().0, whole);
}

#[test]
fn malformed_replies() {
    let cases: &[(&[u8], ReplyError)] = &[
        (b"hello\r\n", ReplyError::UnknownType(b'h')),
        (b"x", ReplyError::UnknownType(b'x')),
        (b"\r\n", ReplyError::UnknownType(b'\r')),
        (b"*2\r\n:1\r\n?\r\n", ReplyError::UnknownType(b'?')),
        (b"+OK\rX", ReplyError::BadLineEnding),
        (b"$3\r\nabcXY", ReplyError::BadBulkTerminator),
        (b"$3\r\nabcd\r\n", ReplyError::BadBulkTerminator),
        (b"$abc\r\n", ReplyError::InvalidLength),
        (b"$-2\r\n", ReplyError::InvalidLength),
        (b"$\r\n", ReplyError::InvalidLength),
        (b"*-2\r\n", ReplyError::InvalidLength),
        (b"*01\r\n", ReplyError::InvalidLength),
        (b"|-1\r\n", ReplyError::InvalidLength),
        (b"$?\r\n", ReplyError::Streamed),
        (b"*?\r\n", ReplyError::Streamed),
    ];
    for (input, err) in cases {
        assert_eq!(scan_one(input), Err(err.clone()), "{input:?}");
    }
    // Garbage is refused before its line ends.
    assert_eq!(scan_one(b"GARBAGE"), Err(ReplyError::UnknownType(b'G')));
}

#[test]
fn scanner_resets_after_error_and_after_frames() {
    let mut scanner = ReplyScanner::new();
    assert_eq!(scanner.scan(b"*2\r\n:1\r\n"), Ok(None));
    assert_eq!(
        scanner.scan(b"*2\r\n:1\r\nX"),
        Err(ReplyError::UnknownType(b'X'))
    );
    assert_eq!(scanner.scan(b"+OK\r\n"), Ok(Some(frame(5, b'+'))));
    assert_eq!(scanner.scan(b":1\r\n"), Ok(Some(frame(4, b':'))));
}

fn nested(depth: usize) -> Vec<u8> {
    let mut input = b"*1\r\n".repeat(depth);
    input.extend_from_slice(b":1\r\n");
    input
}

#[test]
fn depth_is_capped_without_recursion() {
    let ok = nested(MAX_DEPTH);
    assert_eq!(scan_one(&ok), Ok(Some(frame(ok.len(), b'*'))));
    assert_eq!(
        scan_one(&nested(MAX_DEPTH + 1)),
        Err(ReplyError::TooDeep(MAX_DEPTH))
    );
    assert_eq!(
        scan_one(&nested(1_000_000)),
        Err(ReplyError::TooDeep(MAX_DEPTH))
    );
    // Attributes count towards the depth too.
    let mut attrs = b"|1\r\n+k\r\n".repeat(MAX_DEPTH + 1);
    attrs.extend_from_slice(b"+v\r\n");
    assert_eq!(scan_one(&attrs), Err(ReplyError::TooDeep(MAX_DEPTH)));
}

#[test]
fn large_array_in_pieces_is_linear() {
    let n = 1_000_000;
    let mut input = format!("*{n}\r\n").into_bytes();
    for i in 0..n {
        if i % 2 == 0 {
            input.extend_from_slice(b"$3\r\nabc\r\n");
        } else {
            input.extend_from_slice(b":12345\r\n");
        }
    }
    for chunk in [4096, 4093] {
        SEARCHED.with(|c| c.set(0));
        let (frames, left) = scan_pieces(input.chunks(chunk)).unwrap();
        assert_eq!(frames, vec![frame(input.len(), b'*')]);
        assert!(left.is_empty());
        let searched = SEARCHED.with(std::cell::Cell::get);
        assert!(
            searched <= input.len(),
            "searched {searched} of {}",
            input.len()
        );
    }
}

#[test]
fn large_bulk_is_waited_for_by_length() {
    const LEN: usize = 64 * 1024 * 1024;
    let mut buf = format!("${LEN}\r\n").into_bytes();
    let header = buf.len();
    let mut scanner = ReplyScanner::new();
    assert_eq!(scanner.scan(&buf), Ok(None));
    SEARCHED.with(|c| c.set(0));
    let chunk = vec![b'\r'; 64 * 1024];
    while buf.len() < header + LEN {
        buf.extend_from_slice(&chunk);
        assert_eq!(scanner.scan(&buf), Ok(None));
    }
    buf.extend_from_slice(b"\r\n+OK\r\n");
    assert_eq!(scanner.scan(&buf), Ok(Some(frame(header + LEN + 2, b'$'))));
    assert_eq!(SEARCHED.with(std::cell::Cell::get), 0);
}

#[test]
fn long_simple_string_in_pieces_is_searched_once() {
    let mut input = b"+".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100_000));
    input.extend_from_slice(b"\r\n");
    SEARCHED.with(|c| c.set(0));
    let (frames, _) = scan_pieces(input.chunks(10)).unwrap();
    assert_eq!(frames, vec![frame(input.len(), b'+')]);
    assert!(SEARCHED.with(std::cell::Cell::get) <= input.len());
}

#[test]
fn the_quick_path_only_takes_frames_the_general_scan_accepts_the_same() {
    let mut inputs: Vec<Vec<u8>> = samples().into_iter().map(|(s, _)| s.to_vec()).collect();
    for extra in [
        &b"$01\r\nx\r\n"[..],
        b"$00\r\n\r\n",
        b"$3\r\nabcd\r\n",
        b"$3\r\nabc\r\n+OK\r\n",
        b"+OK\rX",
        b"+OK\r\n:1\r\n",
        b"$1234567890123456789\r\n",
        b"$18446744073709551615\r\n",
        b":123456789012345678901234567890123456789012345678901234567890123\r\n",
    ] {
        inputs.push(extra.to_vec());
    }
    let mut quick = 0;
    for input in &inputs {
        // Every prefix too: the quick path must never take a partial frame.
        for end in 0..=input.len() {
            let buf = input.get(..end).unwrap_or_default();
            let general = ReplyScanner::new().advance(buf);
            if let Some(frame) = quick_frame(buf) {
                quick += 1;
                assert_eq!(general, Ok(Some(frame)), "{buf:?}");
            }
        }
    }
    assert!(quick >= 10, "{quick}");
}
