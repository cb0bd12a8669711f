//! Settings that `PROXY CONFIG SET` (and a configuration reload,
//! [`crate::reload`]) change while the proxy runs.
//!
//! [`Runtime`] owns the few values a running proxy may change: cross-slot
//! splitting, `maxclients`, the per-client in-flight limit, the log level
//! (through a hook the binary installs, since it owns the tracing
//! subscriber) and redis-cluster-proxy's `dump-*` switches.
//!
//! Invariants: the hot path reads only atomics (relaxed loads, no lock, no
//! allocation); the log level's text and hook sit behind a mutex touched
//! only by `PROXY CONFIG GET/SET log-level`. Every value starts as the
//! validated configuration said; nothing here is written back to a file.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Changes the process's log filter to the level given (`debug`, `info`,
/// `warn`, `error`, `trace`, or a filter directive); `Err` explains a
/// refusal.
pub type LogHook = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// The runtime-settable part of the settings.
pub struct Runtime {
    cross_slot: AtomicBool,
    maxclients: AtomicUsize,
    max_inflight: AtomicUsize,
    dump_queries: AtomicBool,
    dump_buffer: AtomicBool,
    dump_queues: AtomicBool,
    rcp_compat: AtomicBool,
    log: Mutex<(String, Option<LogHook>)>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cross_slot", &self.cross_slot())
            .field("maxclients", &self.maxclients())
            .field("max_inflight", &self.max_inflight())
            .field("log_level", &self.log_level())
            .finish_non_exhaustive()
    }
}

/// Why a `PROXY CONFIG SET` was refused (the text after `ERR `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError(pub String);

impl Runtime {
    /// Starting values from the validated settings.
    #[must_use]
    pub fn new(cross_slot: bool, maxclients: usize, max_inflight: usize, log_level: &str) -> Self {
        Self {
            cross_slot: AtomicBool::new(cross_slot),
            maxclients: AtomicUsize::new(maxclients),
            max_inflight: AtomicUsize::new(max_inflight),
            dump_queries: AtomicBool::new(false),
            dump_buffer: AtomicBool::new(false),
            dump_queues: AtomicBool::new(false),
            rcp_compat: AtomicBool::new(false),
            log: Mutex::new((log_level.to_owned(), None)),
        }
    }

    /// Whether multi-slot commands are split (`enable-cross-slot`).
    #[must_use]
    pub fn cross_slot(&self) -> bool {
        self.cross_slot.load(Ordering::Relaxed)
    }

    /// Clients served at once.
    #[must_use]
    pub fn maxclients(&self) -> usize {
        self.maxclients.load(Ordering::Relaxed)
    }

    /// Requests of one client in flight before back-pressure.
    #[must_use]
    pub fn max_inflight(&self) -> usize {
        self.max_inflight.load(Ordering::Relaxed)
    }

    /// Whether parsed requests are logged at debug level (`dump-queries`).
    #[must_use]
    pub fn dump_queries(&self) -> bool {
        self.dump_queries.load(Ordering::Relaxed)
    }

    /// The `redis-cluster-proxy` drop-in: multi-slot refusals use its
    /// wording instead of `CROSSSLOT`, and MULTI/WATCH make a client's
    /// connections private for good, as there.
    #[must_use]
    pub fn rcp_compat(&self) -> bool {
        self.rcp_compat.load(Ordering::Relaxed)
    }

    /// Switches redis-cluster-proxy's behaviour on (set once at start by
    /// the drop-in).
    pub fn use_rcp_compat(&self) {
        self.rcp_compat.store(true, Ordering::Relaxed);
    }

    /// The log level last set (as given).
    #[must_use]
    pub fn log_level(&self) -> String {
        self.log.lock().0.clone()
    }

    /// Installs the hook that changes the log filter, and the level the
    /// subscriber started with. Without a hook, `log-level` cannot be set.
    pub fn set_log_hook(&self, level: &str, hook: LogHook) {
        let mut log = self.log.lock();
        *log = (level.to_owned(), Some(hook));
    }

    /// Sets the log filter to `filter` (a level or a filter directive, as
    /// `log.level` in the file) through the hook, and remembers it.
    ///
    /// # Errors
    /// No hook is installed, or the hook refused the filter.
    pub fn set_log_filter(&self, filter: &str) -> Result<(), SetError> {
        let mut log = self.log.lock();
        let Some(hook) = &log.1 else {
            return Err(SetError(
                "this process's logging has no runtime control".to_owned(),
            ));
        };
        hook(filter).map_err(SetError)?;
        log.0 = filter.to_owned();
        Ok(())
    }

    /// Names `PROXY CONFIG SET` accepts.
    pub const SETTABLE: &'static [&'static str] = &[
        "enable-cross-slot",
        "maxclients",
        "max-clients",
        "max-inflight-per-client",
        "log-level",
        "dump-queries",
        "dump-buffer",
        "dump-queues",
        "dump-replies",
    ];

    /// The current value of a runtime setting, if `name` is one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<String> {
        let flag = |b: &AtomicBool| u8::from(b.load(Ordering::Relaxed)).to_string();
        Some(match name {
            "enable-cross-slot" => u8::from(self.cross_slot()).to_string(),
            "maxclients" | "max-clients" => self.maxclients().to_string(),
            "max-inflight-per-client" => self.max_inflight().to_string(),
            "log-level" => self.log_level(),
            "dump-queries" => flag(&self.dump_queries),
            "dump-buffer" => flag(&self.dump_buffer),
            "dump-queues" | "dump-replies" => flag(&self.dump_queues),
            _ => return None,
        })
    }

    /// Changes `name` to `value`.
    ///
    /// # Errors
    /// The option cannot be changed at runtime, or the value is not valid
    /// for it (the message says which, Redis style).
    pub fn set(&self, name: &str, value: &str) -> Result<(), SetError> {
        let invalid = || {
            SetError(format!(
                "Invalid argument '{value}' for PROXY CONFIG SET '{name}'"
            ))
        };
        let count = |min: usize| {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= min)
                .ok_or_else(invalid)
        };
        let flag = || match value.to_ascii_lowercase().as_str() {
            "1" | "yes" | "on" | "true" => Ok(true),
            "0" | "no" | "off" | "false" => Ok(false),
            _ => Err(invalid()),
        };
        match name {
            "enable-cross-slot" => self.cross_slot.store(flag()?, Ordering::Relaxed),
            "maxclients" | "max-clients" => self.maxclients.store(count(1)?, Ordering::Relaxed),
            "max-inflight-per-client" => self.max_inflight.store(count(1)?, Ordering::Relaxed),
            "dump-queries" => self.dump_queries.store(flag()?, Ordering::Relaxed),
            "dump-buffer" => self.dump_buffer.store(flag()?, Ordering::Relaxed),
            "dump-queues" | "dump-replies" => self.dump_queues.store(flag()?, Ordering::Relaxed),
            "log-level" => {
                let level = match value.to_ascii_lowercase().as_str() {
                    l @ ("trace" | "debug" | "info" | "warn" | "error") => l.to_owned(),
                    "success" => "info".to_owned(),
                    "warning" => "warn".to_owned(),
                    _ => return Err(invalid()),
                };
                let mut log = self.log.lock();
                let Some(hook) = &log.1 else {
                    return Err(SetError(
                        "log-level cannot be changed: this process's logging has no runtime control"
                            .to_owned(),
                    ));
                };
                hook(&level).map_err(SetError)?;
                log.0 = value.to_ascii_lowercase();
            }
            _ => {
                return Err(SetError(format!(
                    "Unsupported CONFIG parameter '{name}' for PROXY CONFIG SET (settable at runtime: {})",
                    Self::SETTABLE.join(", ")
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn set_get_and_refusals() {
        let r = Runtime::new(false, 10, 4096, "info");
        assert_eq!(r.get("enable-cross-slot").unwrap(), "0");
        r.set("enable-cross-slot", "1").unwrap();
        assert!(r.cross_slot());
        r.set("maxclients", "5").unwrap();
        assert_eq!(r.get("max-clients").unwrap(), "5");
        assert!(
            r.set("maxclients", "-1")
                .unwrap_err()
                .0
                .contains("maxclients")
        );
        let err = r.set("threads", "2").unwrap_err().0;
        assert!(err.contains("'threads'"), "{err}");
        assert!(r.set("log-level", "debug").is_err(), "no hook installed");
        let seen = std::sync::Arc::new(Mutex::new(String::new()));
        let s2 = seen.clone();
        r.set_log_hook(
            "info",
            Box::new(move |l| {
                *s2.lock() = l.to_owned();
                Ok(())
            }),
        );
        r.set("log-level", "warning").unwrap();
        assert_eq!(*seen.lock(), "warn");
        assert_eq!(r.get("log-level").unwrap(), "warning");
        assert!(r.set("log-level", "loud").is_err());
    }
}
