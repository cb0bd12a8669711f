//! `slotway nutcracker ARGS`, and the binary invoked through a link named
//! `nutcracker`: a drop-in for twemproxy 0.5.0. Same flags, same YAML, same
//! key placement, same stats JSON on `-s`/`-a` (refreshed every `-i` ms) —
//! served by Slotway's engine, one listener per pool.
//!
//! What differs from nutcracker, on purpose: `-t` says *why* a file is
//! invalid; `-m` is accepted and has no effect (buffers grow as needed);
//! `-d` re-executes the process detached (new session, no terminal) rather
//! than forking; SIGTERM drains like SIGINT instead of killing outright.
//!
//! Two flags nutcracker does not have: `--admin IP:PORT` serves Slotway's
//! admin HTTP API for every pool (its bearer token, if any, from the
//! `SLOTWAY_ADMIN_TOKEN` environment variable: never on the command line,
//! where `ps` shows it), and `--threads N` sets the worker threads (default:
//! one per core; `--threads 1` runs single-threaded like nutcracker).

use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use slotway_core::Config;
use slotway_core::pool::PoolServer;
use slotway_core::stats::{gauge, read};
use slotway_core::workers::{Scheduler, Workers};
use slotway_nutconf::{Command, NutcrackerArgs, PoolConf, PoolStats, ServerStats, StatsSnapshot};
use tokio::io::AsyncWriteExt;
use tracing::{error, info, warn};

use crate::pools::{PoolSet, Running, settings_for};

/// Runs the nutcracker command line `args` (without the program name).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args_again = args.clone();
    let (args, own) = match take_own_flags(args) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("nutcracker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = match NutcrackerArgs::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nutcracker: {e}");
            eprintln!("{}", slotway_nutconf::cli::usage());
            return ExitCode::FAILURE;
        }
    };
    match command {
        // nutcracker prints its version and help on standard error.
        Command::Show(show) => {
            eprint!("{}", show.text());
            ExitCode::SUCCESS
        }
        Command::TestConf(args) => match load(&args) {
            Ok(_) => {
                let _ = crate::print_out(&format!(
                    "nutcracker: configuration file '{}' syntax is ok\n",
                    args.conf_file.display()
                ));
                ExitCode::SUCCESS
            }
            Err(e) => {
                let _ = crate::print_out(&format!(
                    "nutcracker: configuration file '{}' syntax is invalid\n",
                    args.conf_file.display()
                ));
                eprintln!("nutcracker: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Run(parsed) => match run(&parsed, &args_again, own) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("nutcracker: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Slotway's own flags in nutcracker mode.
#[derive(Debug, Default)]
struct OwnFlags {
    /// `--admin IP:PORT`.
    admin: Option<String>,
    /// `--threads N` (0: one per core).
    threads: usize,
    /// `--scheduler per-core|work-stealing`.
    scheduler: Scheduler,
}

/// Splits Slotway's own `--admin IP:PORT`, `--threads N` and `--scheduler
/// S` (also in the `--flag=value` form) off nutcracker's arguments.
fn take_own_flags(args: Vec<OsString>) -> Result<(Vec<OsString>, OwnFlags)> {
    let mut rest = Vec::with_capacity(args.len());
    let mut own = OwnFlags::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let text = arg.to_str().unwrap_or_default();
        let (name, inline) = match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (text, None),
        };
        if !matches!(name, "--admin" | "--threads" | "--scheduler") {
            rest.push(arg);
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .with_context(|| format!("{name} needs a value"))?
                .to_string_lossy()
                .into_owned(),
        };
        if name == "--admin" {
            own.admin = Some(value);
        } else if name == "--scheduler" {
            own.scheduler = value
                .parse()
                .map_err(|e| anyhow::anyhow!("--scheduler {e}"))?;
        } else {
            own.threads = value
                .parse()
                .ok()
                .filter(|&n| (1..=1024).contains(&n))
                .with_context(|| format!("--threads {value:?}: a number from 1 to 1024"))?;
        }
    }
    Ok((rest, own))
}

/// What a reload read: the pools, and the sections outside them that
/// changed (applied only at restart).
pub(crate) type Reloaded = (Vec<PoolConf>, Vec<&'static str>);

/// The pools of `args`' configuration file, validated.
fn load(args: &NutcrackerArgs) -> Result<Vec<PoolConf>> {
    let text = std::fs::read_to_string(&args.conf_file)
        .with_context(|| format!("cannot read {}", args.conf_file.display()))?;
    let pools = slotway_nutconf::parse_yaml(&text)?;
    for pool in &pools {
        settings_for(pool, &Config::default())?;
    }
    Ok(pools)
}

/// `[pools.NAME]` of Slotway's own configuration: the same pools as a
/// nutcracker YAML file would give, each running on `base`'s other
/// settings. Serves until SIGINT/SIGTERM.
pub(crate) fn run_toml_pools(base: &Config, read: Option<crate::ReadConfig>) -> Result<()> {
    let pools = slotway_nutconf::pools_from_toml(&base.pools)?;
    for pool in &pools {
        settings_for(pool, base)?;
    }
    let admin = admin_addr(base)?;
    // SIGHUP: the file's pools again (its other sections apply at restart).
    let running = base.clone();
    let reload = move || -> Result<Reloaded> {
        let read = read.as_ref().context("no configuration file to reload")?;
        let config = read()?;
        let pools = slotway_nutconf::pools_from_toml(&config.pools)?;
        Ok((pools, changed_sections(&running, &config)))
    };
    runtimes(base.proxy.threads, base.proxy.scheduler)?
        .block_on(|workers| serve(pools, base, None, admin, reload, workers))
}

/// The sections other than `[pools]` that differ between two configurations
/// (the running pools keep their values until a restart).
pub(crate) fn changed_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    crate::reload::sections(old, new)
        .into_iter()
        .filter(|(_, a, b)| format!("{a:?}") != format!("{b:?}"))
        .map(|(name, _, _)| name)
        .collect()
}

/// The admin listener's address of `config`, if any.
fn admin_addr(config: &Config) -> Result<Option<std::net::SocketAddr>> {
    if config.admin.listen.is_empty() {
        return Ok(None);
    }
    config
        .admin
        .listen
        .parse()
        .map(Some)
        .with_context(|| format!("admin.listen {:?} is not ip:port", config.admin.listen))
}

/// `check-config` for a configuration with pools.
pub(crate) fn check_toml_pools(base: &Config) -> Result<Vec<slotway_core::Settings>> {
    let pools = slotway_nutconf::pools_from_toml(&base.pools)?;
    pools.iter().map(|p| settings_for(p, base)).collect()
}

/// `threads` workers, or one per core when 0.
fn runtimes(threads: usize, scheduler: Scheduler) -> Result<crate::Runtimes> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    crate::Runtimes::start(if threads == 0 { cores } else { threads }, scheduler)
}

fn run(args: &NutcrackerArgs, raw: &[OsString], own: OwnFlags) -> Result<()> {
    if args.daemonize && std::env::var_os(DETACHED).is_none() {
        return detach("nutcracker", raw, &["-d", "--daemonize"]);
    }
    let pools = load(args)?;
    // Slotway's own `--admin`: the pools run on defaults plus that.
    let mut base = Config::default();
    base.proxy.threads = own.threads;
    base.proxy.scheduler = own.scheduler;
    if let Some(addr) = own.admin {
        base.admin.listen = addr;
        base.admin.token = std::env::var("SLOTWAY_ADMIN_TOKEN").unwrap_or_default();
        for pool in &pools {
            settings_for(pool, &base)?;
        }
    }
    let admin = admin_addr(&base)?;
    crate::init_logging_to(
        nutcracker_level(args.verbosity),
        args.output.as_deref(),
        false,
    )?;
    if let Some(path) = &args.pid_file {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write pid file {}", path.display()))?;
    }
    let stats = (
        format!("{}:{}", args.stats_addr, args.stats_port),
        args.stats_interval,
    );
    let reread = args.clone();
    let reload = move || load(&reread).map(|pools| (pools, Vec::new()));
    let result = runtimes(own.threads, own.scheduler)?
        .block_on(|workers| serve(pools, &base, Some(stats), admin, reload, workers));
    if let Some(path) = &args.pid_file {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Serves every pool (one listener each), the admin API on `admin` and,
/// if asked, the stats port (`address`, aggregation interval), until
/// SIGINT/SIGTERM; SIGHUP and `POST /api/v1/config/reload` reload the
/// pools from `reload`.
async fn serve(
    pools: Vec<PoolConf>,
    base: &Config,
    stats: Option<(String, Duration)>,
    admin: Option<std::net::SocketAddr>,
    reload: impl Fn() -> Result<Reloaded>,
    workers: Workers,
) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let started = Instant::now();
    let mut set = PoolSet::start(base, pools, workers).await?;
    let mut stats_task = None;
    if let Some((stats_addr, interval)) = stats {
        let listener = tokio::net::TcpListener::bind(&stats_addr)
            .await
            .with_context(|| format!("cannot listen for stats on {stats_addr}"))?;
        info!(%stats_addr, pools = set.len(), "nutcracker-compatible proxy running");
        stats_task = Some(tokio::spawn(stats_server(
            listener,
            set.watch(),
            interval,
            started,
        )));
    }
    let (reload_tx, mut reloads) = tokio::sync::mpsc::channel(4);
    let admin_stop = tokio_util::sync::CancellationToken::new();
    let mut admin_task = None;
    if let Some(addr) = admin {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (admin)"))?;
        let api = slotway_core::admin::Admin::pools(set.engines())
            .context("no pool to serve")?
            .with_reload(reload_tx)
            .with_journal(set.journal());
        admin_task = Some(tokio::spawn(slotway_core::admin::serve(
            listener,
            Arc::new(api),
            admin_stop.clone().cancelled_owned(),
        )));
    }
    let shutdown = crate::shutdown_signal();
    tokio::pin!(shutdown);
    let mut hup = signal(SignalKind::hangup()).context("watching SIGHUP")?;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = hup.recv() => {
                info!("SIGHUP: reloading the configuration");
                if let Err(e) = apply_reload(&mut set, &reload).await {
                    error!(error = %e, "SIGHUP: configuration not reloaded; the running pools are unchanged");
                }
            }
            Some(request) = reloads.recv() => {
                info!(event = "config_reload", source = "admin", "reloading the configuration (admin API)");
                let answer = apply_reload(&mut set, &reload).await;
                if let Err(e) = &answer {
                    error!(error = %e, "admin API: configuration not reloaded; the running pools are unchanged");
                }
                let _ = request.reply.send(answer);
            }
            Some(done) = set.next_exit() => {
                if let Err(e) = done {
                    warn!(error = %e, "a pool stopped");
                }
            }
        }
    }
    admin_stop.cancel();
    set.shutdown().await;
    if let Some(task) = stats_task {
        task.abort();
    }
    if let Some(task) = admin_task {
        let _ = task.await;
    }
    Ok(())
}

/// Reads the configuration again and applies its pools; the summary the
/// admin API answers with, or why nothing changed.
async fn apply_reload(
    set: &mut PoolSet,
    reload: &impl Fn() -> Result<Reloaded>,
) -> std::result::Result<serde_json::Value, String> {
    let (pools, restart) = reload().map_err(|e| format!("{e:#}"))?;
    let summary = set.reload(pools).await?;
    Ok(serde_json::json!({
        "applied": { "pools": summary },
        "restart_required": restart,
    }))
}

/// Serves the latest snapshot to every connection, then closes it;
/// snapshots are taken every `interval`, as nutcracker aggregates.
async fn stats_server(
    listener: tokio::net::TcpListener,
    pools: tokio::sync::watch::Receiver<Running>,
    interval: Duration,
    started: Instant,
) {
    let mut latest = Arc::new(snapshot(&pools.borrow().clone(), started));
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => latest = Arc::new(snapshot(&pools.borrow().clone(), started)),
            accepted = listener.accept() => {
                if let Ok((mut conn, _)) = accepted {
                    let doc = latest.clone();
                    tokio::spawn(async move {
                        let _ = conn.write_all(doc.as_bytes()).await;
                        let _ = conn.shutdown().await;
                    });
                }
            }
        }
    }
}

fn snapshot(pools: &[(PoolConf, Arc<slotway_core::Engine>)], started: Instant) -> String {
    let mut doc = StatsSnapshot {
        source: hostname(),
        version: "0.5.0".to_owned(),
        uptime: started.elapsed().as_secs(),
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        ..StatsSnapshot::default()
    };
    for (conf, engine) in pools {
        let s = engine.stats();
        let clients = engine.clients().len() as u64;
        doc.total_connections += read(&s.total_connections);
        doc.curr_connections += clients;
        let ejected_at = s.server_ejected_at.lock().clone();
        let table = engine.topology().load();
        let mut pool = PoolStats {
            name: conf.name.clone(),
            client_eof: read(&s.client_eof),
            client_err: read(&s.client_err),
            client_connections: clients,
            server_ejects: read(&s.server_ejects),
            forward_error: read(&s.forward_error),
            fragments: read(&s.fragments),
            servers: Vec::new(),
        };
        for (i, server) in conf.servers.iter().enumerate() {
            let name = PoolServer::from_entry(&server.entry).name;
            let node = u16::try_from(i)
                .ok()
                .and_then(|slot| table.master(slot).cloned());
            let mut out = ServerStats {
                name,
                server_ejected_at: ejected_at.get(i).copied().unwrap_or(0),
                ..ServerStats::default()
            };
            if let Some(node) = node {
                let n = node.stats();
                out.server_eof = read(&n.server_eof);
                out.server_err = read(&n.server_err);
                out.server_timedout = read(&n.server_timedout);
                out.server_connections = gauge(&n.server_connections);
                out.requests = read(&n.requests);
                out.request_bytes = read(&n.request_bytes);
                out.responses = read(&n.responses);
                out.response_bytes = read(&n.response_bytes);
                out.in_queue = gauge(&n.in_queue);
                out.in_queue_bytes = gauge(&n.in_queue_bytes);
                out.out_queue = gauge(&n.out_queue);
                out.out_queue_bytes = gauge(&n.out_queue_bytes);
                doc.curr_connections += out.server_connections;
            }
            pool.servers.push(out);
        }
        doc.pools.push(pool);
    }
    slotway_nutconf::to_json(&doc)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// nutcracker's levels (0 emerg … 5 notice … 11 verbose) as a filter.
fn nutcracker_level(v: u8) -> &'static str {
    match v {
        0..=3 => "error",
        4 => "warn",
        5 | 6 => "info",
        7 | 8 => "debug",
        _ => "trace",
    }
}

/// Set in a detached child: it must not detach again.
pub(crate) const DETACHED: &str = "SLOTWAY_DETACHED";

/// Daemonizing without `fork`: the same command line again (through
/// `slotway SUBCOMMAND …`, whatever name this was started by), without the
/// daemonize flags, detached in its own session with no terminal; the
/// parent returns at once.
pub(crate) fn detach(subcommand: &str, raw: &[OsString], drop: &[&str]) -> Result<()> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe().context("finding the executable to daemonize")?;
    let args: Vec<OsString> = std::iter::once(OsString::from(subcommand))
        .chain(
            raw.iter()
                .filter(|a| !drop.iter().any(|d| *a == *d))
                .cloned(),
        )
        .collect();
    let child = std::process::Command::new(exe)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        // The flag may also come from a config file the child reads again.
        .env(DETACHED, "1")
        .spawn()
        .context("starting the daemon")?;
    let _ = writeln!(
        std::io::stderr(),
        "{subcommand}: daemon started, pid {}",
        child.id()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn own(args: &[&str]) -> Result<(Vec<OsString>, OwnFlags)> {
        take_own_flags(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn slotways_own_flags_are_taken_off_nutcrackers() {
        let (rest, flags) = own(&[
            "-c",
            "x.yml",
            "--threads=3",
            "--scheduler",
            "work-stealing",
            "--admin",
            "127.0.0.1:9121",
        ])
        .unwrap();
        assert_eq!(rest, vec![OsString::from("-c"), OsString::from("x.yml")]);
        assert_eq!(flags.threads, 3);
        assert_eq!(flags.scheduler, Scheduler::WorkStealing);
        assert_eq!(flags.admin.as_deref(), Some("127.0.0.1:9121"));
        assert_eq!(own(&[]).unwrap().1.scheduler, Scheduler::PerCore);
        let err = own(&["--scheduler", "fast"]).unwrap_err().to_string();
        assert!(err.contains("per-core or work-stealing"), "{err}");
        assert!(own(&["--threads", "0"]).is_err());
    }
}
