//! Hostile clients against the real `slotway` binary in front of a real
//! 3-master cluster: malformed frames get Redis's exact protocol errors and
//! a closed connection, a client that pipelines without ever reading is held
//! back instead of buffered, output and idle limits close the clients they
//! should, maxclients refuses the extra client — and through all of it
//! another client keeps getting correct answers and the proxy's RSS (read
//! from /proc) stays bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "hostile/support.rs"]
mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{Raw, bulk, is_ok, text};
use slotway_fixture::Cluster;
use slotway_resp::Value;
use support::{Binary, MB, Witness, exchange, protocol_error, read_n};

#[test]
fn malformed_input_gets_redis_errors_and_others_keep_working() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).unwrap();
    // Redis 7.0's own element limit, so that a billion elements is legal.
    let mut proxy = Binary::start(&cluster, "", "max_multibulk_len = 2147483647");
    let before = proxy.rss();
    let witness = Witness::start(proxy.port);
    let quiet = Duration::from_millis(500);
    let port = proxy.port;

    // (input, exact reply, closed by the proxy)
    let cases: Vec<(&str, Vec<u8>, Vec<u8>, bool)> = vec![
        (
            "negative bulk length",
            b"*1\r\n$-5\r\n".to_vec(),
            protocol_error("invalid bulk length"),
            true,
        ),
        (
            "overflowing bulk length",
            b"*1\r\n$99999999999999999999\r\n".to_vec(),
            protocol_error("invalid bulk length"),
            true,
        ),
        (
            "bulk over proto-max-bulk-len",
            b"*1\r\n$536870913\r\n".to_vec(),
            protocol_error("invalid bulk length"),
            true,
        ),
        (
            "overflowing element count",
            b"*99999999999999999999\r\n".to_vec(),
            protocol_error("invalid multibulk length"),
            true,
        ),
        (
            "count over INT_MAX",
            b"*3000000000\r\n".to_vec(),
            protocol_error("invalid multibulk length"),
            true,
        ),
        (
            "element that is not a bulk",
            b"*2\r\n$3\r\nGET\r\n:1\r\n".to_vec(),
            protocol_error("expected '$', got ':'"),
            true,
        ),
        (
            "unbalanced quotes after a good inline command",
            b"PING\r\nSET k \"v\r\nPING\r\n".to_vec(),
            [&b"+PONG\r\n"[..], &protocol_error("unbalanced quotes in request")].concat(),
            true,
        ),
        (
            "binary garbage with no line end",
            (0..70_000u32).map(|i| 0x80 | (i % 127) as u8).collect(),
            protocol_error("too big inline request"),
            true,
        ),
        (
            "NUL in an inline line never ends it",
            [&b"GET\0k\r\n"[..], &[b'x'; 70_000][..]].concat(),
            protocol_error("too big inline request"),
            true,
        ),
        (
            "header line too long",
            [&b"*"[..], &[b'1'; 70_000][..]].concat(),
            protocol_error("too big mbulk count string"),
            true,
        ),
        (
            "empty and null requests are skipped",
            b"*0\r\n*-1\r\n\r\n  \r\nPING\r\n".to_vec(),
            b"+PONG\r\n".to_vec(),
            false,
        ),
        (
            "pipelined inline commands",
            b"PING\r\nSET hostile:inl 5\r\nGET hostile:inl\r\nPING\n".to_vec(),
            b"+PONG\r\n+OK\r\n$1\r\n5\r\n+PONG\r\n".to_vec(),
            false,
        ),
        (
            "a $ line is an inline command",
            b"$-5\r\n".to_vec(),
            b"-ERR unknown command '$-5', with args beginning with: \r\n".to_vec(),
            false,
        ),
        (
            // (Found by the route fuzz target: the error quotes client bytes.)
            "CR/LF in an unknown command's name stay inside one error line",
            b"*2\r\n$4\r\nA\r\nB\r\n$3\r\nx\ny\r\n".to_vec(),
            b"-ERR unknown command 'A  B', with args beginning with: 'x y' \r\n".to_vec(),
            false,
        ),
        (
            "NUL inside a bulk argument is data",
            b"*3\r\n$3\r\nSET\r\n$9\r\nhostile:z\r\n$3\r\na\0b\r\n*2\r\n$3\r\nGET\r\n$9\r\nhostile:z\r\n"
                .to_vec(),
            b"+OK\r\n$3\r\na\0b\r\n".to_vec(),
            false,
        ),
    ];
    for (what, input, want, closes) in &cases {
        let (got, closed) = exchange(port, input, false, quiet);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "{what}"
        );
        assert_eq!(closed, *closes, "{what}: closed by the proxy");
    }

    // Unterminated frames, then EOF: nothing to answer, the connection closes.
    for input in [
        &b"*2\r\n$3\r\nGET\r\n"[..],
        b"*1\r\n$5\r\nab",
        b"*1000000000\r\n",
        b"SET k v",
    ] {
        let (got, closed) = exchange(port, input, true, Duration::from_secs(5));
        assert!(got.is_empty() && closed, "{input:?}: {got:?}");
    }

    // A billion elements announced, then slow data: nothing is allocated
    // for the count; the client is simply waited for.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"*1000000000\r\n").unwrap();
    for _ in 0..20 {
        slow.write_all(b"$3\r\nGET\r\n").unwrap();
        thread::sleep(Duration::from_millis(50));
    }
    // A declared 512 MiB bulk with a few bytes of it.
    let mut big = TcpStream::connect(("127.0.0.1", port)).unwrap();
    big.write_all(b"*2\r\n$3\r\nSET\r\n$536870912\r\nxxxx")
        .unwrap();
    thread::sleep(Duration::from_millis(300));
    let during = proxy.rss();
    drop(slow);
    drop(big);

    // COMMAND DOCS: a big, deeply nested reply (it crashed another proxy).
    let mut c = proxy.client();
    let docs = c.cmd(&["COMMAND", "DOCS"]);
    let entries = match &docs {
        Value::Array(items) => items.len() / 2,
        Value::Map(pairs) => pairs.len(),
        other => panic!("COMMAND DOCS: {other:?}"),
    };
    assert!(entries > 200, "COMMAND DOCS listed {entries} commands");
    assert_eq!(text(&c.cmd(&["PING"])), "PONG");

    proxy.assert_alive();
    let checked = witness.finish();
    assert!(checked > 0, "the witness client got no answers");
    let after = proxy.rss();
    eprintln!(
        "malformed input: proxy RSS {} MiB before, {} MiB with a billion-element and a 512 MiB \
         request pending, {} MiB after; witness checked {checked} round trips",
        before / MB,
        during / MB,
        after / MB
    );
    assert!(during < before + 200 * MB, "RSS grew to {during}");
}

/// Clients that pipeline without reading are held back, not buffered: at
/// the 4 MiB back-pressure mark, and once they read nothing for a tick, at
/// their soft output limit (16 MiB here), never at their whole pipeline.
#[test]
fn client_that_never_reads_is_held_back_not_buffered() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).unwrap();
    let mut proxy = Binary::start(&cluster, "", "client_output_buffer_soft_limit = 16777216");
    let before = proxy.rss();
    let witness = Witness::start(proxy.port);

    // A 10000-deep pipeline of GETs of a 16 KiB value (160 MiB of replies),
    // never read back (yet): back-pressure must keep most of it unread.
    let value = vec![b'd'; 16 * 1024];
    let mut deep = proxy.client();
    assert!(is_ok(&deep.cmd(&[b"SET".as_slice(), b"deep", &value])));
    let mut batch = bytes::BytesMut::new();
    for _ in 0..10_000 {
        slotway_resp::encode::command(&mut batch, &["GET", "deep"]);
    }
    deep.send(&batch);
    thread::sleep(Duration::from_millis(500));
    let deep_peak = proxy.rss();

    // Then ~1 GB of pipelined SETs without reading, bounded in time: writes
    // stall once the proxy stops reading this client.
    let mut flood = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    flood
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut one = bytes::BytesMut::new();
    slotway_resp::encode::command(&mut one, &["SET", "flood:k", "v"]);
    let per_request = one.len();
    let chunk = one.repeat(256 * 1024 / per_request);
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut sent, mut peak) = (0u64, before);
    let mut stalls = 0;
    while sent < 1 << 30 && Instant::now() < deadline {
        // Resume exactly where a partial write stopped.
        let at = (sent % chunk.len() as u64) as usize;
        match flood.write(&chunk[at..]) {
            Ok(n) => sent += n as u64,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                stalls += 1;
            }
            Err(e) => panic!("flood write: {e}"),
        }
        peak = peak.max(proxy.rss());
    }
    // A partly written request would never be answered: finish it, reading
    // replies meanwhile (the proxy may be holding this client back).
    let partial = (sent % per_request as u64) as usize;
    let mut early_replies = Vec::new();
    if partial != 0 {
        let at = (sent % chunk.len() as u64) as usize;
        let mut rest = &chunk[at..at + per_request - partial];
        flood
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        while !rest.is_empty() {
            match flood.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    match flood.read(&mut buf) {
                        Ok(n) => early_replies.extend_from_slice(&buf[..n]),
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(e) => panic!("flood read: {e}"),
                    }
                }
                Err(e) => panic!("flood write: {e}"),
            }
        }
        sent += (per_request - partial) as u64;
    }
    for _ in 0..10 {
        peak = peak.max(proxy.rss());
        thread::sleep(Duration::from_millis(100));
    }
    proxy.assert_alive();
    let checked = witness.finish();
    assert!(checked > 0, "the witness got no answers during the flood");
    eprintln!(
        "never-reading clients: 10000 GETs of 16 KiB pending, proxy RSS {} MiB; then SET flood sent {} MiB \
         ({} writes stalled 200 ms); proxy RSS {} MiB before, peak {} MiB; witness checked {checked} round trips",
        deep_peak / MB,
        sent / MB,
        stalls,
        before / MB,
        peak / MB
    );
    assert!(
        deep_peak < before + 200 * MB,
        "RSS grew from {before} to {deep_peak}"
    );
    assert!(peak < before + 200 * MB, "RSS grew from {before} to {peak}");

    // Both clients now read: every reply arrives, in order.
    for i in 0..10_000 {
        assert!(bulk(&deep.read()) == value, "deep GET #{i}");
    }
    let requests = sent / per_request as u64;
    let want = b"+OK\r\n".repeat(requests as usize);
    let rest = read_n(&mut flood, want.len() - early_replies.len());
    assert!([early_replies, rest].concat() == want, "flood replies");
}

/// A client that writes its whole pipeline before reading any reply
/// (redis-py's `execute()`, Jedis's `sync()`), with more replies than the
/// back-pressure mark and more requests than the sockets' buffers hold,
/// finishes, as it does against Redis or nutcracker: once its output has
/// not moved for a clock tick, the proxy reads on (up to the soft output
/// limit) instead of both waiting on each other for ever.
#[test]
fn a_client_that_writes_its_whole_pipeline_before_reading_finishes() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Binary::start(&cluster, "", "");
    // 30,000 GETs: 30 MB of requests and 30 MB of replies.
    let n = 30_000;
    let took = common::whole_pipeline_then_read(("127.0.0.1", proxy.port), n);
    eprintln!("whole pipeline then read: {n} GETs of 1000 bytes in {took:?}; proxy alive");
    let mut w = proxy.client();
    assert!(matches!(w.cmd(&["PING"]), Value::Simple(_)));
}

#[test]
fn limits_maxclients_idle_timeout_and_output_buffer() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let cluster = Cluster::start(3, 0).unwrap();
    let proxy = Binary::start(
        &cluster,
        "maxclients = 4\ntimeout = 2",
        "client_query_buffer_limit = 1048576\n\
         client_output_buffer_hard_limit = 8388608\n\
         client_output_buffer_soft_limit = 2097152\n\
         client_output_buffer_soft_seconds = 2",
    );
    // maxclients: four are served, the fifth gets Redis's error and EOF.
    // (The readiness probe's connections may still be closing: wait until
    // this client is the only one.)
    let mut first = proxy.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    while text(&first.cmd(&["CLIENT", "LIST"])).lines().count() > 1 {
        assert!(Instant::now() < deadline, "earlier clients never left");
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(100));
    let mut served = vec![first];
    served.extend((0..3).map(|_| proxy.client()));
    for c in &mut served {
        assert_eq!(text(&c.cmd(&["PING"])), "PONG");
    }
    // (It sends nothing: unread input would make the close a reset.)
    let (got, closed) = exchange(proxy.port, b"", false, Duration::from_secs(5));
    assert_eq!(got, b"-ERR max number of clients reached\r\n");
    assert!(closed);
    served.truncate(2);
    // A slot frees up once a session has ended.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Refused clients get the error at once; an accepted one hears
        // nothing until it asks.
        let (got, _) = exchange(proxy.port, b"", false, Duration::from_millis(300));
        if got.is_empty() {
            break;
        }
        assert_eq!(got, b"-ERR max number of clients reached\r\n");
        assert!(Instant::now() < deadline, "no slot freed up");
        thread::sleep(Duration::from_millis(50));
    }
    let mut again = proxy.client();
    assert_eq!(text(&again.cmd(&["PING"])), "PONG");
    drop(again);
    drop(served);
    thread::sleep(Duration::from_millis(300));

    // Idle timeout: a silent client is closed; a client blocked in BLPOP
    // and a subscriber are not, as in Redis.
    let mut idle = proxy.client();
    let started = Instant::now();
    assert_eq!(text(&idle.cmd(&["PING"])), "PONG");
    let mut blocked = proxy.client();
    blocked.send_cmd(&["BLPOP", "hostile:nothing", "4"]);
    let mut sub = proxy.client();
    // A shard channel: SPUBLISH counts the receivers on the one node that
    // owns it, so the count says when the proxy dropped the subscriber.
    sub.send_cmd(&["SSUBSCRIBE", "hostile:idle"]);
    let _confirmation = sub.read();
    assert!(idle.closed(), "idle client still open");
    // Two whole quiet seconds at least (the clock ticks once a second).
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900),
        "closed too early: {waited:?}"
    );
    assert_eq!(blocked.read(), Value::Null, "BLPOP timed out normally");
    let mut check = proxy.client();
    assert_eq!(
        check.cmd(&["SPUBLISH", "hostile:idle", "still here"]),
        Value::Integer(1)
    );
    let message = sub.read();
    assert_eq!(text(&message.as_array().unwrap()[2]), "still here");
    drop((blocked, check));

    // Output limit: a subscriber that stops reading while 100 KB messages
    // pour in is closed, and the proxy does not keep what it could not send.
    let before = proxy.rss();
    let mut publisher = proxy.client();
    let payload = vec![b'm'; 100 * 1024];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut published = 0u64;
    loop {
        let receivers = publisher.cmd(&[b"SPUBLISH".as_slice(), b"hostile:idle", &payload]);
        published += 1;
        if receivers == Value::Integer(0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "subscriber never closed after {published} messages"
        );
    }
    let peak = proxy.rss();
    // What reaches the subscriber is bounded: socket buffers plus the limit.
    sub.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut drained = 0u64;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        match sub.stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n as u64,
        }
    }
    eprintln!(
        "output limit: subscriber closed after {published} messages of 100 KiB; it had received {} MiB; \
         proxy RSS {} MiB before, {} MiB at the close",
        drained / MB,
        before / MB,
        peak / MB
    );
    assert!(
        drained < published * payload.len() as u64,
        "the subscriber got everything: it was not cut off"
    );
    assert!(peak < before + 200 * MB);
    let mut after = proxy.client();
    assert_eq!(text(&after.cmd(&["PING"])), "PONG");
    drop(after);

    // Query buffer: a request still incomplete past the limit (a legal
    // 2 MB bulk under a 1 MiB limit) closes the client without a reply.
    let input = [
        &b"*2\r\n$4\r\nECHO\r\n$2000000\r\n"[..],
        &vec![b'q'; 1_200_000],
    ]
    .concat();
    let (got, closed) = exchange(proxy.port, &input, false, Duration::from_secs(5));
    assert!(got.is_empty() && closed, "query buffer limit: {got:?}");

    // The proxy-wide budget: a second proxy with 4 MiB for everyone. While
    // the masters hold writes (CLIENT PAUSE WRITE), a client pipelining
    // 64 KiB SETs has its requests in flight in the proxy; once they pass
    // the budget the proxy stops reading it (without the budget: up to
    // 4096 of them, 256 MiB). A client with nothing outstanding is served.
    let budget = Binary::start(&cluster, "", "max_buffered_bytes = 4194304");
    let before = budget.rss();
    let masters = common::master_ranges(&cluster);
    for (_, _, addr) in &masters {
        let mut node = Raw::connect(addr.as_str());
        assert!(is_ok(&node.cmd(&["CLIENT", "PAUSE", "4000", "WRITE"])));
    }
    let paused_at = Instant::now();
    let mut one = bytes::BytesMut::new();
    slotway_resp::encode::command(&mut one, &[b"SET".as_slice(), b"hog", &[b'h'; 64 * 1024]]);
    let per_request = one.len();
    let chunk = one.repeat(16);
    let mut hog = TcpStream::connect(("127.0.0.1", budget.port)).unwrap();
    hog.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut sent = 0u64;
    while paused_at.elapsed() < Duration::from_millis(2500) && sent < 256 * MB {
        let at = (sent % chunk.len() as u64) as usize;
        match hog.write(&chunk[at..]) {
            Ok(n) => sent += n as u64,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("hog write: {e}"),
        }
    }
    let held = budget.rss();
    let mut other = budget.client();
    assert_eq!(text(&other.cmd(&["PING"])), "PONG");
    eprintln!(
        "budget 4 MiB, writes paused: a client got {} MiB of 64 KiB SETs in before it stopped \
         being read; proxy RSS {} MiB before, {} MiB then",
        sent / MB,
        before / MB,
        held / MB
    );
    assert!(held < before + 40 * MB, "RSS grew from {before} to {held}");
    assert!(sent < 64 * MB, "the proxy kept reading: {} MiB", sent / MB);
    // Once the pause ends every complete request is answered.
    let partial = (sent % per_request as u64) as usize;
    if partial != 0 {
        hog.set_write_timeout(None).unwrap();
        let at = (sent % chunk.len() as u64) as usize;
        hog.write_all(&chunk[at..at + per_request - partial])
            .unwrap();
        sent += (per_request - partial) as u64;
    }
    let want = b"+OK\r\n".repeat((sent / per_request as u64) as usize);
    assert!(read_n(&mut hog, want.len()) == want, "hog replies");
    assert!(is_ok(&other.cmd(&["SET", "budget:other", "v"])));
}
