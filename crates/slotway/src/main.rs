//! The `slotway` binary: parse flags, load and validate the configuration
//! once, start logging and the runtime, bind the listeners (plaintext, and
//! TLS when `[tls]` is set), and run the engine
//! until SIGINT or SIGTERM; with `--config`, SIGHUP and the admin API
//! reload the file ([`reload`]). `slotway demo` does the same in front of a local
//! cluster it starts and removes itself.

/// jemalloc (Redis's own allocator) instead of glibc's malloc: replies and
/// requests share large read buffers that are freed in bursts, and glibc gave
/// the top of its heap back to the kernel and took it again (`brk` 240 times
/// in 200,000 GETs of 4 KiB; page faults and page clearing were 6% of the
/// CPU). mimalloc did as well there but took 15 MiB more with 10,000 idle
/// clients; jemalloc took the same as glibc.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod cli;
mod demo;
mod nutcracker;
mod pools;
mod rcp;
mod reload;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use slotway_core::config::LogFormat;
use slotway_core::workers::{Scheduler, Workers};
use slotway_core::{Config, Engine, Settings};
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, LogFormatArg};

fn main() -> ExitCode {
    // nutcracker's command line, through a link named `nutcracker` or as
    // `slotway nutcracker ARGS` (its flags are not clap's).
    let mut argv = std::env::args_os();
    let program = argv.next().unwrap_or_default();
    let rest: Vec<std::ffi::OsString> = argv.collect();
    let name = std::path::Path::new(&program).file_name();
    if name.is_some_and(|n| n == "nutcracker") {
        return nutcracker::main(rest);
    }
    if name.is_some_and(|n| n == "redis-cluster-proxy") {
        return rcp::main(rest);
    }
    match rest.split_first() {
        Some((first, args)) if first == "nutcracker" => return nutcracker::main(args.to_vec()),
        Some((first, args)) if first == "redis-cluster-proxy" => return rcp::main(args.to_vec()),
        _ => {}
    }
    let cli = Cli::parse();
    match real_main(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slotway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `text` to standard output. A reader that went away (`| head`)
/// ends the output quietly, as Unix tools do: Rust ignores SIGPIPE, so
/// `println!` would panic on the broken pipe instead.
///
/// # Errors
/// Any other write failure (a full disk behind a redirection).
pub(crate) fn print_out(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Reads the configuration file again (with the command line's flags).
pub(crate) type ReadConfig = Box<dyn Fn() -> Result<Config> + Send + Sync>;

fn real_main(cli: &Cli) -> Result<()> {
    let mut config = match &cli.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    apply_flags(cli, &mut config);
    match cli.command {
        Some(Command::Demo { masters, replicas }) => {
            init_logging(&config.log.level, config.log.format)?;
            demo::run(config, masters, replicas)
        }
        Some(Command::CheckConfig) if !config.pools.is_empty() => {
            let pools = nutcracker::check_toml_pools(&config)?;
            print_out(&format!("configuration is valid:\n{pools:#?}\n"))
                .context("writing to standard output")
        }
        Some(Command::CheckConfig) => {
            let settings = config.validate()?;
            print_out(&format!("configuration is valid:\n{settings:#?}\n"))
                .context("writing to standard output")
        }
        None if !config.pools.is_empty() => {
            init_logging(&config.log.level, config.log.format)?;
            let read = cli.config.clone().map(|path| -> ReadConfig {
                let flags = cli.clone();
                Box::new(move || {
                    let mut c = Config::from_file(&path)?;
                    apply_flags(&flags, &mut c);
                    Ok(c)
                })
            });
            nutcracker::run_toml_pools(&config, read)
        }
        None => {
            let settings = config.validate()?;
            init_logging(&config.log.level, config.log.format)?;
            // `POST /api/v1/config/reload`: the file again, with the same
            // flags on top.
            let reread = cli.config.clone().map(|path| {
                let flags = cli.clone();
                let read: ReadConfig = Box::new(move || {
                    let mut c = Config::from_file(&path)?;
                    apply_flags(&flags, &mut c);
                    Ok(c)
                });
                (config.clone(), read)
            });
            serve(settings, reread)
        }
    }
}

fn apply_flags(cli: &Cli, config: &mut Config) {
    if let Some(listen) = &cli.listen {
        config.proxy.listen.clone_from(listen);
    }
    if !cli.cluster.is_empty() {
        config.cluster.seeds.clone_from(&cli.cluster);
    }
    if let Some(threads) = cli.threads {
        config.proxy.threads = threads;
    }
    if let Some(scheduler) = cli.scheduler {
        config.proxy.scheduler = scheduler;
    }
    if let Some(level) = &cli.log_level {
        config.log.level.clone_from(level);
    }
    if let Some(format) = cli.log_format {
        config.log.format = match format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    if let Some(admin) = &cli.admin {
        config.admin.listen.clone_from(admin);
    }
}

/// Changes the log filter of the running process (PROXY CONFIG SET
/// log-level), and the level logging started with; set once by the
/// `init_logging*` functions.
type Reload = std::sync::Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;
static LOG_RELOAD: std::sync::OnceLock<(String, Reload)> = std::sync::OnceLock::new();

/// Lets `engine`'s PROXY CONFIG SET log-level change the process's filter.
pub(crate) fn attach_logging(engine: &Engine) {
    if let Some((level, reload)) = LOG_RELOAD.get() {
        let reload = reload.clone();
        engine
            .runtime()
            .set_log_hook(level, Box::new(move |l| reload(l)));
    }
}

/// Logging at `level` to standard error (standard output with
/// `to_stdout`), or appended to `file`.
pub(crate) fn init_logging_to(
    level: &str,
    file: Option<&std::path::Path>,
    to_stdout: bool,
) -> Result<()> {
    let writer = match file {
        None if !to_stdout => return init_logging(level, LogFormat::Text),
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout),
        Some(path) => {
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Arc::new(out))
        }
    };
    let filter =
        EnvFilter::try_new(level).with_context(|| format!("invalid log level {level:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .with_filter_reloading();
    let handle = builder.reload_handle();
    remember_reload(level, move |l| {
        handle
            .reload(EnvFilter::try_new(l).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
    });
    builder
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging: {e}"))
}

fn remember_reload(
    level: &str,
    reload: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
) {
    let _ = LOG_RELOAD.set((level.to_owned(), std::sync::Arc::new(reload)));
}

/// Human-readable lines by default; with `json`, one object per line with
/// the event's fields at the top level (`timestamp`, `level`, `target`,
/// `message`, and stable names such as `event`, `node`, `version`).
fn init_logging(level: &str, format: LogFormat) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(env),
        _ => EnvFilter::try_new(level),
    }
    .with_context(|| format!("invalid log level {level:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let builder = builder.with_filter_reloading();
            let handle = builder.reload_handle();
            remember_reload(level, move |l| {
                let f = EnvFilter::try_new(l).map_err(|e| e.to_string())?;
                handle.reload(f).map_err(|e| e.to_string())
            });
            builder.try_init()
        }
        LogFormat::Json => {
            let builder = builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_filter_reloading();
            let handle = builder.reload_handle();
            remember_reload(level, move |l| {
                let f = EnvFilter::try_new(l).map_err(|e| e.to_string())?;
                handle.reload(f).map_err(|e| e.to_string())
            });
            builder.try_init()
        }
    }
    .map_err(|e| anyhow::anyhow!("logging: {e}"))
}

/// The runtimes every mode runs on (`proxy.scheduler`, docs/configuration.md).
///
/// `per-core` (the default): the calling thread runs a tokio current-thread
/// runtime (worker 0: accept loop, refresher, admin API, its share of
/// clients) and `threads - 1` more threads run one each, every one with its
/// own clients and backend connections: no work stealing and no cross-thread
/// wake-ups per request, which costs measurably less CPU per request
/// (docs/benchmarks.md). `work-stealing`: one tokio multi-threaded runtime.
pub(crate) struct Runtimes {
    main: tokio::runtime::Runtime,
    workers: slotway_core::workers::WorkerThreads,
}

impl Runtimes {
    /// `threads` workers scheduled as `scheduler` says.
    pub(crate) fn start(threads: usize, scheduler: Scheduler) -> Result<Self> {
        let threads = threads.max(1);
        let per_core = threads == 1 || scheduler == Scheduler::PerCore;
        let main = if per_core {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("slotway-worker")
                .enable_all()
                .build()
        }
        .context("starting the runtime")?;
        let workers = slotway_core::workers::WorkerThreads::start(
            if per_core { threads } else { 1 },
            main.handle().clone(),
        )
        .context("starting the worker threads")?;
        Ok(Self { main, workers })
    }

    /// Runs `task` (given the workers to build engines with) on the main
    /// runtime, then stops the worker threads.
    pub(crate) fn block_on<F: std::future::Future>(
        self,
        task: impl FnOnce(Workers) -> F,
    ) -> F::Output {
        let workers = self.workers.workers().clone();
        let out = self.main.block_on(task(workers));
        self.workers.stop();
        out
    }
}

/// Builds the runtime and serves until a signal; returns after the grace
/// period. With `reread` (the running configuration and how to read it
/// again), the admin API's reload and SIGHUP apply the file again.
pub(crate) fn serve(settings: Settings, reread: Option<(Config, ReadConfig)>) -> Result<()> {
    Runtimes::start(settings.threads, settings.scheduler)?.block_on(|workers| async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let mut listeners = vec![slotway_core::ClientListener::from(listener)];
        if let Some(tls) = &settings.tls {
            let tcp = tokio::net::TcpListener::bind(tls.listen)
                .await
                .with_context(|| format!("cannot listen on {} (tls.listen)", tls.listen))?;
            listeners.push(slotway_core::ClientListener::Tls(tcp, tls.clone()));
        }
        let admin = match settings.admin_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (admin.listen)"))?,
            ),
            None => None,
        };
        let engine = Engine::with_workers(settings, workers);
        attach_logging(&engine);
        let stop = tokio_util::sync::CancellationToken::new();
        let mut api = slotway_core::admin::Admin::cluster(engine.clone());
        if let Some((running, read)) = reread {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            api = api.with_reload(tx);
            tokio::spawn(reload::serve(engine.clone(), running, read, rx));
        }
        let api = std::sync::Arc::new(api);
        let admin_task = admin.map(|listener| {
            tokio::spawn(slotway_core::admin::serve(
                listener,
                api,
                stop.clone().cancelled_owned(),
            ))
        });
        let signal = async {
            shutdown_signal().await;
            stop.cancel();
        };
        let served = slotway_core::serve_listeners(listeners, engine, signal).await;
        stop.cancel();
        if let Some(task) = admin_task {
            match task.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "admin API stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "admin API task failed"),
                Ok(Ok(())) => {}
            }
        }
        served?;
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the proxy");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
    }
}
