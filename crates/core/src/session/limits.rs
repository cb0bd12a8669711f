//! Per-client resource limits and the proxy-wide buffer budget: what keeps a
//! hostile or broken client from exhausting the proxy's memory, descriptors
//! or patience.
//!
//! - [`ClientLimits`]: the limits (`proxy.maxclients`, `proxy.timeout`,
//!   `proxy.tcp_keepalive`, `limits.client_*`, `limits.max_buffered_bytes`),
//!   validated here from the config sections with Redis's ranges.
//! - [`Budget`]: bytes buffered by every session together (unparsed input,
//!   requests read but not yet answered, replies not yet written).
//! - [`Meter`]: one per session; checks its buffers after every event of the
//!   session loop and says when to close the client, and keeps the session's
//!   share of the budget up to date.
//!
//! Invariants:
//! - Nothing here runs per request: the session calls [`Meter::after_event`]
//!   once per loop iteration (one read can carry thousands of requests), it
//!   only compares integers, reads the clock only while the output is over
//!   its soft limit, and touches the shared counter only when the budget is
//!   on and the session's share changed.
//! - Over the budget, only sessions with something outstanding (requests in
//!   flight or output unwritten) stop reading: each of them frees memory as
//!   its replies arrive and are written, and a session with nothing
//!   outstanding always reads, so the budget never deadlocks the proxy; at
//!   worst every client is served one request at a time.
//! - A client closed by a limit gets no reply (Redis closes such clients
//!   without one too); the reason is logged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{LimitsConfig, ProxyConfig};
use crate::error::ConfigError;

/// Validated client limits; see docs/configuration.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientLimits {
    /// Clients served at once; the next gets `-ERR max number of clients
    /// reached` and is closed.
    pub maxclients: usize,
    /// Close a client idle this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// TCP keepalive idle time on client sockets (`None`: off).
    pub tcp_keepalive: Option<Duration>,
    /// Most bytes of unparsed input one client may have buffered.
    pub query_buffer: usize,
    /// Unwritten reply bytes of one client that close it at once.
    pub output_hard: Option<usize>,
    /// Unwritten reply bytes of one client that close it when they stay
    /// above this for the given time.
    pub output_soft: Option<(usize, Duration)>,
    /// Proxy-wide bytes buffered beyond which busy sessions stop reading.
    pub max_buffered: Option<usize>,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            maxclients: 10_000,
            idle_timeout: None,
            tcp_keepalive: Some(Duration::from_secs(300)),
            query_buffer: 1 << 30,
            output_hard: Some(1 << 30),
            output_soft: Some((64 << 20, Duration::from_secs(60))),
            max_buffered: None,
        }
    }
}

impl ClientLimits {
    /// Validates `proxy.maxclients`, `proxy.timeout`, `proxy.tcp_keepalive`
    /// and the `limits.client_*` / `max_buffered_bytes` keys, with Redis's
    /// ranges.
    pub(crate) fn from_config(p: &ProxyConfig, l: &LimitsConfig) -> Result<Self, ConfigError> {
        if p.maxclients == 0 {
            return Err(ConfigError::invalid(
                "proxy.maxclients",
                "must be at least 1",
            ));
        }
        let seconds = |key: &'static str, v: u64| {
            // Redis's INT_MAX; also keeps every deadline computable.
            if v > MAX_SECONDS {
                return Err(ConfigError::invalid(key, format!("at most {MAX_SECONDS}")));
            }
            Ok((v > 0).then(|| Duration::from_secs(v)))
        };
        let bytes = |key: &'static str, v: u64| {
            usize::try_from(v).map_err(|_| ConfigError::invalid(key, "too large for this machine"))
        };
        if l.client_query_buffer_limit < MIN_QUERY_BUFFER {
            return Err(ConfigError::invalid(
                "limits.client_query_buffer_limit",
                "must be at least 1048576 (1 MiB), as in Redis",
            ));
        }
        let hard = bytes(
            "limits.client_output_buffer_hard_limit",
            l.client_output_buffer_hard_limit,
        )?;
        let soft = bytes(
            "limits.client_output_buffer_soft_limit",
            l.client_output_buffer_soft_limit,
        )?;
        let patience = seconds(
            "limits.client_output_buffer_soft_seconds",
            l.client_output_buffer_soft_seconds,
        )?
        .unwrap_or(Duration::ZERO);
        let budget = bytes("limits.max_buffered_bytes", l.max_buffered_bytes)?;
        Ok(ClientLimits {
            maxclients: p.maxclients,
            idle_timeout: seconds("proxy.timeout", p.timeout)?,
            tcp_keepalive: seconds("proxy.tcp_keepalive", p.tcp_keepalive)?,
            query_buffer: bytes(
                "limits.client_query_buffer_limit",
                l.client_query_buffer_limit,
            )?,
            output_hard: (hard > 0).then_some(hard),
            output_soft: (soft > 0).then_some((soft, patience)),
            max_buffered: (budget > 0).then_some(budget),
        })
    }
}

/// Largest number of seconds a duration setting takes (Redis's `INT_MAX`).
const MAX_SECONDS: u64 = 0x7fff_ffff;
/// Redis's minimum `client-query-buffer-limit`.
const MIN_QUERY_BUFFER: u64 = 1 << 20;

/// The proxy-wide count of bytes buffered by sessions.
#[derive(Debug, Default)]
pub struct Budget {
    used: AtomicUsize,
}

impl Budget {
    /// Bytes currently counted (for PROXY INFO-style reporting and tests).
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Why a client is being closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    /// Its unparsed input passed `limits.client_query_buffer_limit`.
    QueryBuffer,
    /// Its unwritten output passed the hard limit.
    OutputHard,
    /// Its unwritten output stayed above the soft limit for too long.
    OutputSoft,
    /// It sent nothing and was sent nothing for `proxy.timeout`.
    Idle,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::QueryBuffer => "query buffer over limits.client_query_buffer_limit",
            Self::OutputHard => "output buffer over limits.client_output_buffer_hard_limit",
            Self::OutputSoft => {
                "output buffer over limits.client_output_buffer_soft_limit for too long"
            }
            Self::Idle => "idle for longer than proxy.timeout",
        })
    }
}

/// Period of the coarse clock that drives the idle timeout and the soft
/// output limit.
pub const CLOCK: Duration = Duration::from_secs(1);

/// Stop reading a client with this many bytes of requests outstanding (read
/// since it last had nothing in flight): the request count limit alone
/// would let 4096 large requests pile up behind a slow node.
pub const IN_FLIGHT_HIGH_WATER: usize = 64 << 20;

/// What a session's buffers look like after an event.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// Unparsed input bytes.
    pub input: usize,
    /// Input bytes read whose requests are not all answered (input included).
    pub pending_input: usize,
    /// Unwritten reply bytes.
    pub output: usize,
    /// Requests in flight or output unwritten.
    pub busy: bool,
    /// Subscribed to channels (exempt from the idle timeout, as in Redis).
    pub subscribed: bool,
}

/// One session's limit checks and share of the budget.
#[derive(Debug)]
pub struct Meter<'a> {
    limits: ClientLimits,
    budget: &'a Budget,
    /// This session's bytes in `budget`.
    counted: usize,
    /// Input bytes read whose requests are not all answered, at the last event.
    pending_input: usize,
    /// Since when the output has been over the soft limit.
    soft_since: Option<Instant>,
    /// Clock ticks in a row with no client activity while idle.
    idle_ticks: u64,
    /// Something was read or written since the last tick.
    active: bool,
}

impl<'a> Meter<'a> {
    /// A meter for one session.
    pub fn new(limits: ClientLimits, budget: &'a Budget) -> Self {
        Self {
            limits,
            budget,
            counted: 0,
            pending_input: 0,
            soft_since: None,
            idle_ticks: 0,
            active: true,
        }
    }

    /// The client read or was written to.
    pub fn activity(&mut self) {
        self.active = true;
    }

    /// Whether the session may read more, as far as bytes go. Only a busy
    /// session (requests in flight or output unwritten) is ever held: it
    /// will get events that free bytes, so holding it cannot deadlock.
    pub fn may_read(&self, busy: bool) -> bool {
        if busy && self.pending_input > IN_FLIGHT_HIGH_WATER {
            return false;
        }
        match self.limits.max_buffered {
            Some(max) if busy => self.budget.used.load(Ordering::Relaxed) < max,
            _ => true,
        }
    }

    /// Whether the coarse clock must run: for the idle timeout while the
    /// session is idle, and while the output is over its soft limit.
    pub fn clock_needed(&self, busy: bool) -> bool {
        (self.limits.idle_timeout.is_some() && !busy) || self.soft_since.is_some()
    }

    /// Checks the buffers after an event of the session loop; `Some` means
    /// close the client now.
    pub fn after_event(&mut self, usage: Usage) -> Option<Exceeded> {
        self.pending_input = usage.pending_input;
        if self.limits.max_buffered.is_some() {
            self.account(usage.pending_input.saturating_add(usage.output));
        }
        if usage.input > self.limits.query_buffer {
            return Some(Exceeded::QueryBuffer);
        }
        self.check_output(usage.output)
    }

    /// One tick of the coarse clock.
    pub fn on_tick(&mut self, usage: Usage) -> Option<Exceeded> {
        if let Some(timeout) = self.limits.idle_timeout {
            if self.active || usage.busy || usage.subscribed {
                self.idle_ticks = 0;
            } else {
                self.idle_ticks = self.idle_ticks.saturating_add(1);
                // `idle_ticks` whole periods without activity have passed.
                if u128::from(self.idle_ticks) * CLOCK.as_millis() >= timeout.as_millis() {
                    return Some(Exceeded::Idle);
                }
            }
            self.active = false;
        }
        self.check_output(usage.output)
    }

    fn check_output(&mut self, output: usize) -> Option<Exceeded> {
        if self.limits.output_hard.is_some_and(|hard| output > hard) {
            return Some(Exceeded::OutputHard);
        }
        let (soft, patience) = self.limits.output_soft?;
        if output <= soft {
            self.soft_since = None;
            return None;
        }
        let since = *self.soft_since.get_or_insert_with(Instant::now);
        (since.elapsed() >= patience).then_some(Exceeded::OutputSoft)
    }

    /// Moves this session's share of the budget to `now` bytes.
    fn account(&mut self, now: usize) {
        if now > self.counted {
            self.budget
                .used
                .fetch_add(now - self.counted, Ordering::Relaxed);
        } else if now < self.counted {
            self.budget
                .used
                .fetch_sub(self.counted - now, Ordering::Relaxed);
        }
        self.counted = now;
    }
}

impl Drop for Meter<'_> {
    fn drop(&mut self) {
        self.account(0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn usage(input: usize, output: usize, busy: bool) -> Usage {
        Usage {
            input,
            pending_input: input,
            output,
            busy,
            subscribed: false,
        }
    }

    #[test]
    fn client_limits_default_like_redis_and_are_validated() {
        let s = crate::config::Settings::for_seeds(&["127.0.0.1:7001"]).unwrap();
        assert_eq!(s.client_limits, ClientLimits::default());
        assert_eq!(s.client_limits.maxclients, 10_000);
        assert_eq!(s.client_limits.idle_timeout, None);
        assert_eq!(
            s.client_limits.tcp_keepalive,
            Some(Duration::from_secs(300))
        );
        assert_eq!(s.client_limits.query_buffer, 1 << 30);
        assert_eq!(s.client_limits.max_buffered, None);

        let c = crate::config::Config::from_toml(
            r#"
            [proxy]
            maxclients = 2
            timeout = 5
            tcp_keepalive = 0
            [cluster]
            seeds = ["127.0.0.1:7001"]
            [limits]
            client_query_buffer_limit = 2097152
            client_output_buffer_hard_limit = 0
            client_output_buffer_soft_limit = 1000
            client_output_buffer_soft_seconds = 0
            max_buffered_bytes = 4096
            "#,
        )
        .unwrap();
        let l = c.validate().unwrap().client_limits;
        assert_eq!(l.maxclients, 2);
        assert_eq!(l.idle_timeout, Some(Duration::from_secs(5)));
        assert_eq!(l.tcp_keepalive, None);
        assert_eq!(l.query_buffer, 2 << 20);
        assert_eq!(l.output_hard, None);
        assert_eq!(l.output_soft, Some((1000, Duration::ZERO)));
        assert_eq!(l.max_buffered, Some(4096));

        let refused = |tweak: fn(&mut crate::config::Config), key: &str| {
            let mut c = crate::config::Config::default();
            c.cluster.seeds = vec!["127.0.0.1:7001".into()];
            tweak(&mut c);
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        };
        refused(|c| c.proxy.maxclients = 0, "proxy.maxclients");
        refused(|c| c.proxy.timeout = 1 << 31, "proxy.timeout");
        refused(|c| c.proxy.tcp_keepalive = u64::MAX, "proxy.tcp_keepalive");
        refused(
            |c| c.limits.client_query_buffer_limit = 1000,
            "limits.client_query_buffer_limit",
        );
        refused(
            |c| c.limits.client_output_buffer_soft_seconds = 1 << 40,
            "limits.client_output_buffer_soft_seconds",
        );
    }

    #[test]
    fn query_buffer_and_hard_output_limits_close_at_once() {
        let budget = Budget::default();
        let limits = ClientLimits {
            query_buffer: 100,
            output_hard: Some(1000),
            output_soft: None,
            ..ClientLimits::default()
        };
        let mut m = Meter::new(limits, &budget);
        assert_eq!(m.after_event(usage(100, 1000, true)), None);
        assert_eq!(
            m.after_event(usage(101, 0, true)),
            Some(Exceeded::QueryBuffer)
        );
        assert_eq!(
            m.after_event(usage(0, 1001, true)),
            Some(Exceeded::OutputHard)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn soft_output_limit_needs_time_over_it() {
        let budget = Budget::default();
        let limits = ClientLimits {
            output_hard: None,
            output_soft: Some((10, Duration::from_secs(5))),
            ..ClientLimits::default()
        };
        let mut m = Meter::new(limits, &budget);
        assert_eq!(m.after_event(usage(0, 11, true)), None);
        assert!(
            m.clock_needed(true),
            "the clock runs while over the soft limit"
        );
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(m.on_tick(usage(0, 11, true)), None);
        // Back under the limit: the wait starts over.
        assert_eq!(m.after_event(usage(0, 10, true)), None);
        assert!(!m.clock_needed(true));
        assert_eq!(m.after_event(usage(0, 11, true)), None);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(m.on_tick(usage(0, 11, true)), Some(Exceeded::OutputSoft));
    }

    #[test]
    fn idle_timeout_counts_quiet_ticks_only() {
        let budget = Budget::default();
        let limits = ClientLimits {
            idle_timeout: Some(Duration::from_secs(2)),
            ..ClientLimits::default()
        };
        let mut m = Meter::new(limits, &budget);
        // The first tick after activity only clears the flag.
        assert_eq!(m.on_tick(usage(0, 0, false)), None);
        assert_eq!(m.on_tick(usage(0, 0, false)), None);
        m.activity();
        assert_eq!(m.on_tick(usage(0, 0, false)), None);
        assert_eq!(m.on_tick(usage(0, 0, false)), None);
        // Busy (a request in flight) or subscribed: never idle.
        assert_eq!(m.on_tick(usage(0, 0, true)), None);
        let subscribed = Usage {
            subscribed: true,
            ..usage(0, 0, false)
        };
        assert_eq!(m.on_tick(subscribed), None);
        assert_eq!(m.on_tick(usage(0, 0, false)), None);
        assert_eq!(m.on_tick(usage(0, 0, false)), Some(Exceeded::Idle));
    }

    #[test]
    fn budget_counts_every_session_and_stops_only_busy_ones() {
        let budget = Budget::default();
        let limits = ClientLimits {
            max_buffered: Some(100),
            ..ClientLimits::default()
        };
        let mut a = Meter::new(limits, &budget);
        let mut b = Meter::new(limits, &budget);
        a.after_event(usage(60, 0, true));
        b.after_event(usage(10, 30, true));
        assert_eq!(budget.used(), 100);
        assert!(!a.may_read(true) && !b.may_read(true));
        assert!(
            a.may_read(false),
            "a session with nothing outstanding reads"
        );
        a.after_event(usage(20, 0, true));
        assert_eq!(budget.used(), 60);
        assert!(a.may_read(true));
        drop(b);
        assert_eq!(budget.used(), 20);
        drop(a);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn requests_in_flight_hold_a_busy_session_only() {
        let budget = Budget::default();
        let mut m = Meter::new(ClientLimits::default(), &budget);
        m.after_event(usage(IN_FLIGHT_HIGH_WATER, 0, true));
        assert!(m.may_read(true));
        m.after_event(usage(IN_FLIGHT_HIGH_WATER + 1, 0, true));
        assert!(!m.may_read(true));
        // Nothing outstanding: an incomplete large request must go on.
        assert!(m.may_read(false));
    }

    #[test]
    fn without_a_budget_nothing_is_counted() {
        let budget = Budget::default();
        let mut a = Meter::new(ClientLimits::default(), &budget);
        a.after_event(usage(1000, 1000, true));
        assert_eq!(budget.used(), 0);
        assert!(a.may_read(true));
    }
}
