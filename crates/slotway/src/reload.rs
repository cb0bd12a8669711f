//! Cluster mode's configuration reload, on `POST /api/v1/config/reload` and
//! on SIGHUP (when started with `--config`): the file is read again (with
//! the command line's flags on top), validated whole, and what a running
//! engine can change is applied to it ([`slotway_core::reload::apply`]);
//! the settings that differ from the ones the process started with and
//! cannot change at run time are listed as `restart_required`.
//!
//! Invariants: a file that fails to read or validate (or names an invalid
//! log level) changes nothing; one reload runs at a time (this task owns
//! them); every reload, applied or refused, is logged with
//! `event = "config_reload"`.

use std::fmt::Debug;
use std::sync::Arc;

use serde_json::{Value, json};
use slotway_core::admin::ReloadRequest;
use slotway_core::{Config, Engine};
use tokio::sync::mpsc;

use crate::ReadConfig;

/// Serves reloads for `engine` until the process ends: the admin API's
/// `requests` (if its sender lives) and SIGHUP. `started` is the
/// configuration the process started with.
pub(crate) async fn serve(
    engine: Arc<Engine>,
    started: Config,
    read: ReadConfig,
    mut requests: mpsc::Receiver<ReloadRequest>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGHUP; reload through the admin API only");
            None
        }
    };
    loop {
        tokio::select! {
            Some(request) = requests.recv() => {
                let answer = reload(&engine, &started, &read, "admin");
                let _ = request.reply.send(answer);
            }
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => {
                let _ = reload(&engine, &started, &read, "sighup");
            }
            else => return,
        }
    }
}

/// One reload: the summary the admin API answers with, or why the file
/// was refused.
fn reload(
    engine: &Engine,
    started: &Config,
    read: &ReadConfig,
    source: &str,
) -> Result<Value, String> {
    let checked = read().and_then(|config| {
        let settings = config.validate()?;
        tracing_subscriber::EnvFilter::try_new(&config.log.level)
            .map_err(|e| anyhow::anyhow!("invalid log.level {:?}: {e}", config.log.level))?;
        Ok((config, settings))
    });
    let (config, settings) = match checked {
        Ok(c) => c,
        Err(e) => {
            let e = format!("{e:#}");
            tracing::error!(event = "config_reload", source, error = %e, "configuration not reloaded; nothing changed");
            return Err(e);
        }
    };
    let applied = slotway_core::reload::apply(engine, &settings, Some(&config.log.level));
    let mut restart = restart_required(started, &config);
    if !config.pools.is_empty() {
        restart.push("pools".to_owned());
    }
    let applied = Value::Object(applied);
    tracing::info!(event = "config_reload", source, %applied, restart_required = ?restart, "configuration reloaded");
    Ok(json!({ "applied": applied, "restart_required": restart }))
}

/// The sections of two configurations other than `[pools]`, side by side
/// (what a reload compares).
pub(crate) fn sections<'a>(
    old: &'a Config,
    new: &'a Config,
) -> [(&'static str, &'a dyn Debug, &'a dyn Debug); 8] {
    [
        ("proxy", &old.proxy, &new.proxy),
        ("cluster", &old.cluster, &new.cluster),
        ("limits", &old.limits, &new.limits),
        ("log", &old.log, &new.log),
        ("admin", &old.admin, &new.admin),
        ("users", &old.users, &new.users),
        ("tls", &old.tls, &new.tls),
        ("commands", &old.commands, &new.commands),
    ]
}

/// `config` without the values a reload applies (so they never show as
/// needing a restart).
fn without_runtime_values(config: &Config) -> Config {
    let mut c = config.clone();
    c.proxy.maxclients = 0;
    c.proxy.max_inflight_per_client = 0;
    c.proxy.slowlog_log_slower_than = 0;
    c.proxy.slowlog_max_len = 0;
    c.proxy.requirepass.clear();
    c.cluster.cross_slot_split = false;
    c.log.level.clear();
    c.users.clear();
    c.pools.clear();
    c
}

/// The settings (`section.field`) that differ between the configuration
/// the process started with and `new`, other than those a reload applies.
pub(crate) fn restart_required(started: &Config, new: &Config) -> Vec<String> {
    let (old, new) = (without_runtime_values(started), without_runtime_values(new));
    let mut out = Vec::new();
    for (name, a, b) in sections(&old, &new) {
        let (a, b) = (format!("{a:#?}"), format!("{b:#?}"));
        if a == b {
            continue;
        }
        let (a, b) = (fields(&a), fields(&b));
        let before = out.len();
        for (field, value) in &b {
            if a.iter().find(|(f, _)| f == field).map(|(_, v)| v) != Some(value) {
                out.push(format!("{name}.{field}"));
            }
        }
        if out.len() == before {
            out.push(name.to_owned());
        }
    }
    out
}

/// The top-level fields of a struct's `{:#?}` text, with their values'
/// text (a field starts on a line indented by exactly four spaces).
fn fields(pretty: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in pretty.lines() {
        let top = line.strip_prefix("    ").filter(|l| !l.starts_with(' '));
        match top.and_then(|l| l.split_once(": ")) {
            Some((field, value)) if field.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                out.push((field.to_owned(), value.to_owned()));
            }
            _ => {
                if let Some((_, value)) = out.last_mut() {
                    value.push('\n');
                    value.push_str(line);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_values_never_need_a_restart() {
        let old = Config::default();
        let mut new = old.clone();
        new.proxy.maxclients = 3;
        new.proxy.requirepass = "pw".into();
        new.log.level = "debug".into();
        assert!(restart_required(&old, &new).is_empty());
        new.proxy.listen = "127.0.0.1:1".into();
        new.cluster.seeds = vec!["127.0.0.1:2".into()];
        assert_eq!(
            restart_required(&old, &new),
            ["proxy.listen", "cluster.seeds"]
        );
    }
}
