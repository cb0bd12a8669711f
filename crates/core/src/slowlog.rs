//! The proxy's slow log: requests whose end-to-end time through the proxy
//! (from the read that brought them to the moment their reply was ready to
//! write) reached `proxy.slowlog_log_slower_than` microseconds, answered by
//! `SLOWLOG GET / LEN / RESET` in Redis's exact format.
//!
//! Entries are trimmed as Redis trims them: at most 32 arguments (the last
//! one then says `... (N more arguments)`), each at most 128 bytes followed
//! by `... (N more bytes)`. Commands Redis never logs (`skip_slowlog`:
//! EXEC …) are not logged, and AUTH's arguments and HELLO's `AUTH` username
//! and password are replaced by `(redacted)`, so no secret ever lands here.
//!
//! Invariants: ids grow by one per entry and survive RESET, as in Redis; the
//! log holds at most `max_len` entries, newest first; the lock is taken only
//! for a request over the threshold or by the SLOWLOG command itself. The
//! threshold and length are atomics (a configuration reload changes them
//! while requests are timed); each request reads the threshold once,
//! relaxed: a request finishing during a change is judged by either value.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use slotway_resp::num::string2ll;
use slotway_resp::request::canonical_args;
use slotway_resp::{Request, encode};
use smallvec::SmallVec;

/// Arguments kept per entry (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
pub const MAX_ARGC: usize = 32;
/// Bytes kept per argument (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
pub const MAX_STRING: usize = 128;

/// Slow log settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlowlogSettings {
    /// Requests taking at least this many microseconds are logged; negative:
    /// the log is off.
    pub log_slower_than: i64,
    /// Entries kept.
    pub max_len: usize,
}

impl Default for SlowlogSettings {
    fn default() -> Self {
        Self {
            log_slower_than: 10_000,
            max_len: 128,
        }
    }
}

/// One logged request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Unique, growing id.
    pub id: u64,
    /// Unix time (seconds) it was logged.
    pub time: i64,
    /// End-to-end microseconds.
    pub duration_us: u64,
    /// Its arguments, trimmed as Redis trims them.
    pub args: Vec<Bytes>,
    /// Client `ip:port` (shared: a session formats it once).
    pub peer: Arc<str>,
    /// Client name (empty if none).
    pub name: Bytes,
}

/// The log.
#[derive(Debug)]
pub struct SlowLog {
    log_slower_than: AtomicI64,
    max_len: AtomicUsize,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl SlowLog {
    /// An empty log.
    #[must_use]
    pub fn new(settings: SlowlogSettings) -> Self {
        Self {
            log_slower_than: AtomicI64::new(settings.log_slower_than),
            max_len: AtomicUsize::new(settings.max_len),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// The settings it runs with.
    #[must_use]
    pub fn settings(&self) -> SlowlogSettings {
        SlowlogSettings {
            log_slower_than: self.log_slower_than.load(Ordering::Relaxed),
            max_len: self.max_len.load(Ordering::Relaxed),
        }
    }

    /// Runs with `settings` from now on (a configuration reload); entries
    /// beyond the new length are dropped at once, as Redis trims on
    /// `CONFIG SET slowlog-max-len`.
    pub fn set_settings(&self, settings: SlowlogSettings) {
        self.log_slower_than
            .store(settings.log_slower_than, Ordering::Relaxed);
        self.max_len.store(settings.max_len, Ordering::Relaxed);
        self.entries.lock().truncate(settings.max_len);
    }

    /// Whether a request of `usec` microseconds is logged (Redis: at least
    /// the threshold, and the log is on).
    #[must_use]
    pub fn wants(&self, usec: u64) -> bool {
        u64::try_from(self.log_slower_than.load(Ordering::Relaxed)).is_ok_and(|t| usec >= t)
    }

    /// Logs the request whose canonical multibulk encoding is `raw` (the
    /// caller checked [`SlowLog::wants`]). The entry owns one small buffer
    /// with what it keeps of the arguments: never the request, which may be
    /// hundreds of megabytes.
    pub fn record(&self, raw: &[u8], usec: u64, peer: Arc<str>, name: Option<&Bytes>) {
        let max_len = self.max_len.load(Ordering::Relaxed);
        if max_len == 0 {
            return;
        }
        let Some((argc, args)) = canonical_args(raw) else {
            return;
        };
        let first: SmallVec<[&[u8]; MAX_ARGC]> = args.take(MAX_ARGC).collect();
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time,
            duration_us: usec,
            args: trimmed_args(argc, &first),
            peer,
            name: name.cloned().unwrap_or_default(),
        };
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(max_len);
    }

    /// The newest `count` entries, newest first.
    #[must_use]
    pub fn get(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    /// Entries held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether the log is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry (ids keep growing).
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// The arguments as Redis keeps them (32 at most, 128 bytes each at most,
/// AUTH's and HELLO's secrets redacted), of a request of `argc` arguments
/// whose first ones are `first`; copied into one buffer sized for them.
fn trimmed_args(argc: usize, first: &[&[u8]]) -> Vec<Bytes> {
    let kept = argc.min(MAX_ARGC).min(first.len());
    let redact = redacted_positions(first, argc);
    // Each piece is at most 128 bytes and a suffix of under 32.
    let room = first
        .iter()
        .take(kept)
        .map(|a| a.len().min(MAX_STRING) + 32)
        .sum();
    let mut buf = BytesMut::with_capacity(room);
    let mut args = Vec::with_capacity(kept);
    for (j, arg) in first.iter().enumerate().take(kept) {
        if kept != argc && j + 1 == kept {
            let _ = write!(buf, "... ({} more arguments)", argc - kept + 1);
        } else if redact.contains(&j) {
            buf.extend_from_slice(b"(redacted)");
        } else if let Some(head) = arg.get(..MAX_STRING).filter(|_| arg.len() > MAX_STRING) {
            buf.extend_from_slice(head);
            let _ = write!(buf, "... ({} more bytes)", arg.len() - MAX_STRING);
        } else {
            buf.extend_from_slice(arg);
        }
        // What was written since the last split: a view of the same buffer.
        args.push(buf.split().freeze());
    }
    args
}

/// Positions of secrets Redis redacts from its slow log, in a request of
/// `argc` arguments whose first ones are `first`: every argument of AUTH,
/// and HELLO's `AUTH username password`.
pub(crate) fn redacted_positions(first: &[&[u8]], argc: usize) -> Vec<usize> {
    let name = first.first().copied().unwrap_or_default();
    if name.eq_ignore_ascii_case(b"auth") {
        // (Only the positions shown can matter.)
        return (1..argc.min(first.len())).collect();
    }
    if !name.eq_ignore_ascii_case(b"hello") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = 2;
    while let Some(opt) = first.get(i) {
        if opt.eq_ignore_ascii_case(b"auth") {
            out.extend([i + 1, i + 2]);
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"setname") {
            i += 2;
        } else {
            break;
        }
    }
    out
}

/// Answers `SLOWLOG GET [count]`, `SLOWLOG LEN`, `SLOWLOG RESET`.
pub fn answer(req: &Request, log: &SlowLog, out: &mut BytesMut) {
    let sub = req.arg(1).unwrap_or_default();
    if sub.eq_ignore_ascii_case(b"len") && req.argc() == 2 {
        encode::integer(out, i64::try_from(log.len()).unwrap_or(i64::MAX));
    } else if sub.eq_ignore_ascii_case(b"reset") && req.argc() == 2 {
        log.reset();
        encode::simple(out, b"OK");
    } else if sub.eq_ignore_ascii_case(b"get") && req.argc() <= 3 {
        let count = match req.arg(2) {
            None => 10,
            Some(arg) => match string2ll(arg) {
                Some(-1) => usize::MAX,
                Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => {
                    return encode::error(out, b"ERR count should be greater than or equal to -1");
                }
            },
        };
        let entries = log.get(count);
        encode::array_header(out, entries.len());
        for e in &entries {
            encode::array_header(out, 6);
            encode::integer(out, i64::try_from(e.id).unwrap_or(i64::MAX));
            encode::integer(out, e.time);
            encode::integer(out, i64::try_from(e.duration_us).unwrap_or(i64::MAX));
            encode::array_header(out, e.args.len());
            for a in &e.args {
                encode::bulk(out, a);
            }
            encode::bulk(out, e.peer.as_bytes());
            encode::bulk(out, &e.name);
        }
    } else {
        let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        msg.extend_from_slice(sub.get(..sub.len().min(128)).unwrap_or_default());
        msg.extend_from_slice(b"'. Try SLOWLOG HELP.");
        encode::error(out, &msg);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn req(args: &[&[u8]]) -> Request {
        Request::from_args(args.iter().copied())
    }

    fn trimmed(args: &[&[u8]]) -> Vec<Bytes> {
        let first: Vec<&[u8]> = args.iter().copied().take(MAX_ARGC).collect();
        trimmed_args(args.len(), &first)
    }

    fn raw(args: &[&[u8]]) -> Bytes {
        req(args).into_raw()
    }

    #[test]
    fn trims_like_redis() {
        let long = vec![b'x'; 200];
        let mut args: Vec<&[u8]> = vec![b"RPUSH", b"k", &long];
        args.extend(std::iter::repeat_n(b"v".as_slice(), 40));
        let t = trimmed(&args);
        assert_eq!(t.len(), 32);
        assert_eq!(t[0], "RPUSH");
        let mut want = vec![b'x'; 128];
        want.extend_from_slice(b"... (72 more bytes)");
        assert_eq!(t[2], want);
        // 43 arguments, 31 kept: the 32nd says how many more there were.
        assert_eq!(t[31], "... (12 more arguments)");
        let exactly: Vec<&[u8]> = std::iter::repeat_n(b"a".as_slice(), 32).collect();
        assert_eq!(trimmed(&exactly)[31], "a");
        let h = trimmed(&[b"HELLO", b"3", b"AUTH", b"default", b"secret"]);
        assert_eq!(h[4], "(redacted)");
        assert_eq!(h[3], "(redacted)");
        assert_eq!(h[2], "AUTH");
        let a = trimmed(&[b"AUTH", b"default", b"secret"]);
        assert_eq!(a, vec!["AUTH", "(redacted)", "(redacted)"]);
        let exact = vec![b'y'; 128];
        assert_eq!(trimmed(&[b"SET", b"k", &exact])[2], exact);
    }

    #[test]
    fn an_entry_keeps_its_arguments_not_the_request() {
        let log = SlowLog::new(SlowlogSettings::default());
        let big = vec![b'v'; 1 << 20];
        let request = raw(&[b"SET", b"k", b"a b\r\nc", &big]);
        log.record(&request, 12, "1.2.3.4:5".into(), None);
        let e = &log.get(1)[0];
        assert_eq!(e.args[..3], [&b"SET"[..], b"k", b"a b\r\nc"]);
        assert_eq!(e.args[3].len(), 128 + "... (1048448 more bytes)".len());
        // Nothing of the entry points into the request's buffer.
        let span = request.as_ptr_range();
        assert!(e.args.iter().all(|a| !span.contains(&a.as_ptr())));
    }

    #[test]
    fn newest_first_bounded_ids_survive_reset() {
        let log = SlowLog::new(SlowlogSettings {
            log_slower_than: 5,
            max_len: 2,
        });
        assert!(!log.wants(4));
        assert!(log.wants(5));
        for i in 0..3 {
            log.record(
                &raw(&[b"GET", format!("k{i}").as_bytes()]),
                7,
                "1.2.3.4:5".into(),
                None,
            );
        }
        let got = log.get(10);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].id, got[1].id), (2, 1));
        assert_eq!(got[0].args[1], "k2");
        log.reset();
        assert!(log.is_empty());
        log.record(&raw(&[b"GET", b"k"]), 7, "".into(), None);
        assert_eq!(log.get(1)[0].id, 3);
        let off = SlowLog::new(SlowlogSettings {
            log_slower_than: -1,
            max_len: 2,
        });
        assert!(!off.wants(u64::MAX));
    }

    #[test]
    fn replies() {
        let log = SlowLog::new(SlowlogSettings::default());
        log.record(
            &raw(&[b"GET", b"k"]),
            12,
            "1.2.3.4:5".into(),
            Some(&Bytes::from("app")),
        );
        let run = |args: &[&[u8]]| {
            let mut out = BytesMut::new();
            answer(&req(args), &log, &mut out);
            String::from_utf8(out.to_vec()).unwrap()
        };
        assert_eq!(run(&[b"SLOWLOG", b"LEN"]), ":1\r\n");
        let got = run(&[b"SLOWLOG", b"GET"]);
        assert!(got.starts_with("*1\r\n*6\r\n:0\r\n:"), "{got}");
        assert!(
            got.ends_with(":12\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n$9\r\n1.2.3.4:5\r\n$3\r\napp\r\n"),
            "{got}"
        );
        assert_eq!(run(&[b"SLOWLOG", b"GET", b"0"]), "*0\r\n");
        assert_eq!(
            run(&[b"SLOWLOG", b"GET", b"-2"]),
            "-ERR count should be greater than or equal to -1\r\n"
        );
        assert_eq!(
            run(&[b"SLOWLOG", b"GET", b"x"]),
            "-ERR count should be greater than or equal to -1\r\n"
        );
        assert_eq!(run(&[b"SLOWLOG", b"RESET"]), "+OK\r\n");
        assert_eq!(run(&[b"SLOWLOG", b"LEN"]), ":0\r\n");
    }
}
