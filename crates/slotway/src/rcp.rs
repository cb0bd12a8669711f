//! `slotway redis-cluster-proxy ARGS`, and the binary invoked through a
//! link named `redis-cluster-proxy`: a drop-in for RedisLabs'
//! redis-cluster-proxy. Same flags, same `proxy.conf` keys, same defaults
//! where they mean something here; served by Slotway's cluster engine.
//!
//! Rules kept from the original: a config line `key value` is the flag
//! `--key value`, `key yes` the bare flag, `key no` is ignored; `-c FILE`
//! is read where it stands (later flags win); `include FILE` inside a file;
//! non-option arguments are entry points; an unknown key is an error
//! (`Invalid option '--key'`). Improvements: the sample file's `max-clients`
//! spelling is accepted; cross-slot splitting follows `enable-cross-slot`
//! as the original (off unless given); `disable-multiplexing always` gives
//! every client its own node connections (`never` refuses PROXY
//! MULTIPLEXING OFF); `dump-queries` logs each request at debug level.
//! Logs go to standard output unless `logfile` is given, as the original's.
//! Accepted and without effect: `connections-pool-*` (dedicated
//! connections are pooled per node on demand), `disable-colors`,
//! `dump-buffer`, `dump-queues`.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use slotway_core::{ClientListener, Config, Engine};

/// Everything the command line and config files said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RcpOptions {
    pub entry_points: Vec<String>,
    pub port: u16,
    pub bind: Vec<String>,
    pub unixsocket: Option<String>,
    pub unixsocketperm: u32,
    pub threads: usize,
    pub maxclients: usize,
    pub tcpkeepalive: u64,
    pub daemonize: bool,
    pub pidfile: Option<String>,
    pub logfile: Option<String>,
    pub enable_cross_slot: bool,
    pub auth: Option<String>,
    pub auth_user: Option<String>,
    pub log_level: String,
    pub disable_multiplexing: slotway_core::config::Multiplexing,
    pub dump_queries: bool,
    pub help: bool,
}

impl Default for RcpOptions {
    fn default() -> Self {
        Self {
            entry_points: Vec::new(),
            port: 7777,
            bind: Vec::new(),
            unixsocket: None,
            unixsocketperm: 0,
            threads: 8,
            maxclients: 10_000,
            tcpkeepalive: 300,
            daemonize: false,
            pidfile: None,
            logfile: None,
            enable_cross_slot: false,
            auth: None,
            auth_user: None,
            log_level: "info".to_owned(),
            disable_multiplexing: slotway_core::config::Multiplexing::Auto,
            dump_queries: false,
            help: false,
        }
    }
}

/// Keys that take no value (bare flags).
const FLAGS: &[&str] = &[
    "daemonize",
    "enable-cross-slot",
    "disable-colors",
    "dump-queries",
    "dump-buffer",
    "dump-queues",
];

/// Keys accepted for compatibility that change nothing here.
const IGNORED: &[&str] = &[
    "connections-pool-size",
    "connections-pool-min-size",
    "connections-pool-spawn-every",
    "connections-pool-spawn-rate",
    "tcp-backlog",
];

/// Parses `args` (after the program name); `read` reads a config file.
pub(crate) fn parse(
    args: &[String],
    read: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<RcpOptions> {
    let mut o = RcpOptions::default();
    apply(&mut o, args, read, 0)?;
    Ok(o)
}

fn apply(
    o: &mut RcpOptions,
    args: &[String],
    read: &dyn Fn(&str) -> std::io::Result<String>,
    depth: usize,
) -> Result<()> {
    if depth > 8 {
        bail!("config files include each other too deeply");
    }
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let mut value = || -> Result<String> {
            let v = args.get(i).cloned().with_context(|| {
                format!("Invalid option '{arg}' or invalid number of option arguments")
            })?;
            i += 1;
            Ok(v)
        };
        match arg.as_str() {
            "-h" | "--help" => o.help = true,
            "-c" => {
                let path = value()?;
                let text =
                    read(&path).with_context(|| format!("cannot read config file {path}"))?;
                let tokens = file_tokens(&text)?;
                apply(o, &tokens, read, depth + 1)?;
            }
            "-p" => o.port = number(&value()?, "port")?,
            "-a" => o.auth = Some(value()?),
            long if long.starts_with("--") => {
                let key = long.trim_start_matches("--");
                if FLAGS.contains(&key) {
                    if key == "daemonize" {
                        o.daemonize = true;
                    } else if key == "enable-cross-slot" {
                        o.enable_cross_slot = true;
                    } else if key == "dump-queries" {
                        o.dump_queries = true;
                    }
                    continue;
                }
                let v = value()?;
                set(o, key, v, read, depth)?;
            }
            entry => o.entry_points.push(entry.to_owned()),
        }
    }
    Ok(())
}

fn set(
    o: &mut RcpOptions,
    key: &str,
    v: String,
    read: &dyn Fn(&str) -> std::io::Result<String>,
    depth: usize,
) -> Result<()> {
    match key {
        "cluster" | "entry-point" => o.entry_points.push(v),
        "port" => o.port = number(&v, key)?,
        "bind" => o.bind.push(v),
        "unixsocket" => o.unixsocket = Some(v),
        "unixsocketperm" => {
            o.unixsocketperm = u32::from_str_radix(&v, 8)
                .ok()
                .filter(|p| *p <= 0o777)
                .with_context(|| format!("unixsocketperm: {v:?} is not an octal permission"))?;
        }
        "threads" => {
            let n: usize = number(&v, key)?;
            if !(1..=500).contains(&n) {
                bail!("threads must be between 1 and 500");
            }
            o.threads = n;
        }
        "maxclients" | "max-clients" => o.maxclients = number(&v, key)?,
        "tcpkeepalive" => o.tcpkeepalive = number(&v, key)?,
        "pidfile" => o.pidfile = Some(v),
        "logfile" => o.logfile = (!v.is_empty()).then_some(v),
        "auth" => o.auth = Some(v),
        "auth-user" => o.auth_user = (v != "default").then_some(v),
        "log-level" => {
            if !["debug", "info", "success", "warning", "error"].contains(&v.as_str()) {
                bail!("log-level must be debug, info, success, warning or error");
            }
            o.log_level = v;
        }
        "disable-multiplexing" => {
            use slotway_core::config::Multiplexing;
            o.disable_multiplexing = match v.as_str() {
                "auto" => Multiplexing::Auto,
                "always" => Multiplexing::Always,
                "never" => Multiplexing::Never,
                _ => bail!("disable-multiplexing must be auto, always or never"),
            };
        }
        "include" => {
            let text = read(&v).with_context(|| format!("cannot read included file {v}"))?;
            apply(o, &file_tokens(&text)?, read, depth + 1)?;
        }
        k if IGNORED.contains(&k) => {}
        other => bail!("Invalid option '--{other}' or invalid number of option arguments"),
    }
    Ok(())
}

fn number<T: std::str::FromStr>(v: &str, key: &str) -> Result<T> {
    v.parse()
        .ok()
        .with_context(|| format!("{key}: {v:?} is not a valid number"))
}

/// A config file as flags: `key value…` → `--key value…`, `key yes` → `--key`,
/// `key no` dropped, comments and blank lines skipped.
fn file_tokens(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line
            .split_whitespace()
            .map(|w| w.trim_matches('"').to_owned());
        let Some(key) = words.next() else {
            continue;
        };
        let rest: Vec<String> = words.collect();
        match rest.as_slice() {
            [v] if v == "no" => {}
            [v] if v == "yes" && FLAGS.contains(&key.as_str()) => out.push(format!("--{key}")),
            [] => out.push(format!("--{key}")),
            _ => {
                out.push(format!("--{key}"));
                out.extend(rest);
            }
        }
    }
    Ok(out)
}

/// The options as Slotway's configuration.
pub(crate) fn config_of(o: &RcpOptions) -> Result<Config> {
    if o.entry_points.is_empty() {
        bail!(
            "at least one cluster entry point is needed (positional argument, or `cluster` in the config file)"
        );
    }
    let mut c = Config::default();
    c.cluster.seeds = o
        .entry_points
        .iter()
        .map(|e| match e.strip_prefix(':') {
            Some(port) => format!("127.0.0.1:{port}"),
            None => e.clone(),
        })
        .collect();
    let host = o.bind.first().map_or("0.0.0.0", String::as_str);
    c.proxy.listen = if host.contains(':') {
        format!("[{host}]:{}", o.port)
    } else {
        format!("{host}:{}", o.port)
    };
    c.proxy.threads = o.threads;
    c.proxy.maxclients = o.maxclients;
    c.proxy.tcp_keepalive = o.tcpkeepalive;
    c.cluster.cross_slot_split = o.enable_cross_slot;
    c.proxy.disable_multiplexing = o.disable_multiplexing;
    // A client AUTH as another user runs with that user's rights, as in
    // redis-cluster-proxy (checked by the cluster).
    c.proxy.auth_passthrough = true;
    // redis-cluster-proxy answers at once when a node is down; its clients
    // (redis-rb: 5 s read timeout) must get the error before they give up,
    // so requests wait for a new owner of their slot 2 s, not 20.
    c.cluster.park_timeout_ms = 2_000;
    if let Some(pass) = &o.auth {
        c.cluster.password.clone_from(pass);
        c.cluster.user = o.auth_user.clone().unwrap_or_default();
    }
    c.log.level = match o.log_level.as_str() {
        "success" => "info",
        "warning" => "warn",
        other => other,
    }
    .to_owned();
    Ok(c)
}

fn usage() -> &'static str {
    "Usage: redis-cluster-proxy [OPTIONS] [node1_host:node1_port,node2_host:node2_port,...]\n  \
     -c <file>          Configuration file\n  \
     -p, --port <port>  Port (default: 7777; 0 disables TCP)\n  \
     --bind <address>   Address to listen on\n  \
     --unixsocket <sock_file>, --unixsocketperm <perm>\n  \
     --threads <n>      Worker threads (default: 8)\n  \
     --maxclients <n>   Maximum clients (default: 10000)\n  \
     --tcpkeepalive <s> TCP keepalive (default: 300)\n  \
     --daemonize, --pidfile <path>, --logfile <path>\n  \
     --enable-cross-slot  Split multi-slot MGET/MSET/DEL/EXISTS/UNLINK/TOUCH\n  \
     -a, --auth <passw> Password for the cluster nodes\n  \
     --auth-user <name> ACL user for the cluster nodes\n  \
     --log-level <level>  debug, info, success, warning, error\n  \
     --disable-multiplexing <opt>  auto, always (a private connection per client) or never\n  \
     --dump-queries     Log every request at debug level\n  \
     -h, --help         This help\n\
     (served by Slotway; see docs/operations.md)\n"
}

/// Runs the redis-cluster-proxy command line `args`.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let result = parse(&args, &|p| std::fs::read_to_string(p)).and_then(|o| {
        if o.help {
            return crate::print_out(usage()).context("writing to standard output");
        }
        run(&o, &args)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: &RcpOptions, raw: &[String]) -> Result<()> {
    if o.daemonize && std::env::var_os(crate::nutcracker::DETACHED).is_none() {
        let raw: Vec<OsString> = raw.iter().map(OsString::from).collect();
        return crate::nutcracker::detach("redis-cluster-proxy", &raw, &["--daemonize"]);
    }
    let config = config_of(o)?;
    let settings = config.validate()?;
    crate::init_logging_to(
        &config.log.level,
        o.logfile.as_deref().map(std::path::Path::new),
        true,
    )?;
    if let Some(path) = &o.pidfile {
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write pid file {path}"))?;
    }
    let runtimes = crate::Runtimes::start(settings.threads, settings.scheduler)?;
    let result = runtimes.block_on(|workers| async move {
        let listeners = listeners(o, &settings).await?;
        let engine = Engine::with_workers(settings, workers);
        crate::attach_logging(&engine);
        engine.runtime().use_rcp_compat();
        if o.dump_queries {
            let _ = engine.runtime().set("dump-queries", "1");
        }
        slotway_core::server::serve_listeners(listeners, engine, crate::shutdown_signal()).await?;
        Ok(())
    });
    if let Some(path) = &o.unixsocket {
        let _ = std::fs::remove_file(path);
    }
    if let Some(path) = &o.pidfile {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// TCP on `port` (unless 0), the unix socket when asked, or both.
async fn listeners(
    o: &RcpOptions,
    settings: &slotway_core::Settings,
) -> Result<Vec<ClientListener>> {
    let tcp = if o.port == 0 {
        None
    } else {
        Some(
            tokio::net::TcpListener::bind(settings.listen)
                .await
                .with_context(|| format!("cannot listen on {}", settings.listen))?,
        )
    };
    let unix = match &o.unixsocket {
        Some(path) => {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::remove_file(path);
            let l = tokio::net::UnixListener::bind(path)
                .with_context(|| format!("cannot listen on {path}"))?;
            if o.unixsocketperm != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(o.unixsocketperm))
                    .with_context(|| format!("chmod {path}"))?;
            }
            Some(l)
        }
        None => None,
    };
    let all: Vec<ClientListener> = tcp
        .map(ClientListener::from)
        .into_iter()
        .chain(unix.map(ClientListener::from))
        .collect();
    if all.is_empty() {
        bail!("port 0 and no unixsocket: nothing to listen on");
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_files_and_positionals() {
        let file = "# sample\ncluster 127.0.0.1:7001\nport 7000\nthreads 2\nenable-cross-slot yes\ndaemonize no\nmax-clients 50\nconnections-pool-size 5\nlog-level warning\n";
        let read = |p: &str| {
            if p == "proxy.conf" {
                Ok(file.to_owned())
            } else {
                Err(std::io::Error::other("no such file"))
            }
        };
        let o = parse(&args("-c proxy.conf -p 7100 :7002 --auth s3"), &read).unwrap();
        assert_eq!(o.entry_points, vec!["127.0.0.1:7001", ":7002"]);
        assert_eq!(o.port, 7100, "flags after -c win");
        assert_eq!(o.threads, 2);
        assert!(o.enable_cross_slot);
        assert!(!o.daemonize);
        assert_eq!(o.maxclients, 50);
        let c = config_of(&o).unwrap();
        assert_eq!(c.cluster.seeds, vec!["127.0.0.1:7001", "127.0.0.1:7002"]);
        assert_eq!(c.proxy.listen, "0.0.0.0:7100");
        assert_eq!(c.cluster.password, "s3");
        assert_eq!(c.log.level, "warn");
        let err = parse(&args("--bogus 1"), &read).unwrap_err().to_string();
        assert!(err.contains("Invalid option '--bogus'"), "{err}");
        assert!(parse(&args("-c missing.conf"), &read).is_err());
        assert!(parse(&args("--threads 0 h:1"), &read).is_err());
        assert!(config_of(&parse(&args("-p 1"), &read).unwrap()).is_err());
    }
}
