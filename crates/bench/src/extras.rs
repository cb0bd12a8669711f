//! The sections after the CPU matrix: idle-client memory, open-loop
//! latency and MGET CPU per key, each run against the fleet's processes.
//!
//! Invariants: a failure of one target is recorded in its row and reported
//! in the output, not fatal (the other tables stand alone); every run is
//! bounded (see `rss`, `latency`, `mget`); idle clients are closed before
//! the next section starts, and the proxy is given a moment to tear them
//! down so they do not disturb the next measurement.

use std::process::Command;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use slotway_fixture::{find_binary, run_bounded};

use crate::args::Args;
use crate::cases::{SMALL, Test};
use crate::cpu;
use crate::fleet::Fleet;
use crate::latency::{self, Load, Summary};
use crate::mget::{self, MgetRow};
use crate::rss::{self, RssRow};
use crate::runner::{self, Spec};
use crate::strace;
use crate::targets::Target;

/// Proxies of the idle-client section, in run order.
const RSS_TARGETS: [Target; 3] = [
    Target::SlotwayPool,
    Target::SlotwayCluster,
    Target::Nutcracker,
];
/// Latency runs: each direct run before the proxies on the same servers.
const LATENCY_TARGETS: [Target; 5] = [
    Target::StandaloneDirect,
    Target::Nutcracker,
    Target::SlotwayPool,
    Target::ClusterDirect,
    Target::SlotwayCluster,
];
/// Proxies of the MGET section.
const MGET_TARGETS: [Target; 3] = [
    Target::Nutcracker,
    Target::SlotwayPool,
    Target::SlotwayCluster,
];
/// Keys the latency runs cycle through.
const LATENCY_KEYS: usize = 1000;
/// Requests of the traced MGET window, sent by one client (`-c 1`): each
/// request is then one client batch, and (writes − 1 reply) / servers is
/// the backend writes per node per batch. With many clients both proxies
/// coalesce several clients' requests into one backend write.
pub const MGET_TRACED: u64 = 300;

/// `PROXY CONFIG SET maxclients N` on a Slotway proxy (its default is
/// exactly 10,000, which leaves no room for a stray connection).
fn set_maxclients(port: u16, n: usize) -> Result<()> {
    let port = port.to_string();
    let n = n.to_string();
    let mut cli = Command::new("redis-cli");
    cli.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "PROXY",
        "CONFIG",
        "SET",
        "maxclients",
        &n,
    ]);
    let out = run_bounded(&mut cli, Duration::from_secs(5)).context("redis-cli")?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if text != "OK" {
        anyhow::bail!("PROXY CONFIG SET maxclients {n} answered `{text}`");
    }
    Ok(())
}

/// RSS of each proxy with `args.idle_clients` idle clients.
pub fn idle_all(fleet: &mut Fleet, args: &Args) -> (Vec<RssRow>, Vec<(Target, String)>) {
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for target in RSS_TARGETS {
        let mut one = || -> Result<RssRow> {
            let pid = fleet.proxy_pid(target)?.context("not a proxy")?;
            let port = fleet.single_port(target)?;
            // Room for a stray connection; a proxy that refuses (PROXY
            // CONFIG SET needs an admin user outside the redis-cluster-proxy
            // drop-in) still admits exactly its default 10,000.
            if target != Target::Nutcracker
                && let Err(e) = set_maxclients(port, args.idle_clients + 1000)
            {
                eprintln!(
                    "rss: {}: maxclients left at its default ({e:#})",
                    target.name()
                );
            }
            rss::measure(target, pid, port, args.idle_clients)
        };
        match one() {
            Ok(r) => {
                eprintln!(
                    "rss: {}: {:.1} MiB with {} idle clients ({:.2} KiB each)",
                    target.name(),
                    r.loaded_mib(),
                    r.clients,
                    r.per_client_kib()
                );
                rows.push(r);
            }
            Err(e) => {
                eprintln!("rss: {}: {e:#}", target.name());
                errors.push((target, format!("{e:#}")));
            }
        }
        // Let the proxy close 10,000 sockets before anything else runs.
        thread::sleep(Duration::from_secs(1));
    }
    (rows, errors)
}

/// The latency load of this run.
pub fn load(args: &Args) -> Load {
    Load {
        conns: args.latency_conns,
        rate: args.rate,
        secs: args.latency_secs(),
        data_size: SMALL as usize,
    }
}

/// Open-loop latency of every target.
pub fn latency_all(fleet: &mut Fleet, args: &Args) -> (Vec<Summary>, Vec<(Target, String)>) {
    let load = load(args);
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let keys = match fleet.first_master_keys("lat:", LATENCY_KEYS) {
        Ok(k) => k,
        Err(e) => {
            errors.push((Target::ClusterDirect, format!("{e:#}")));
            return (rows, errors);
        }
    };
    for target in LATENCY_TARGETS {
        let result = fleet
            .proxy_pid(target)
            .and_then(|_| fleet.single_port(target))
            .and_then(|port| latency::run(target, port, load, &keys));
        match result {
            Ok(s) => {
                eprintln!(
                    "latency: {}: p50 {} µs, p99 {} µs, p99.9 {} µs ({} requests)",
                    target.name(),
                    s.p50,
                    s.p99,
                    s.p999,
                    s.requests
                );
                rows.push(s);
            }
            Err(e) => {
                eprintln!("latency: {}: {e:#}", target.name());
                errors.push((target, format!("{e:#}")));
            }
        }
    }
    (rows, errors)
}

/// MGET of 100 keys through each proxy: CPU per key, then write syscalls
/// in a short traced window.
pub fn mget_all(
    fleet: &mut Fleet,
    args: &Args,
    tck: u64,
    keyspace: u64,
) -> (Vec<MgetRow>, Vec<(Target, String)>) {
    let requests: u64 = if args.quick { 5_000 } else { 20_000 };
    let have_strace = find_binary("strace").is_some();
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for target in MGET_TARGETS {
        let mut one = || -> Result<MgetRow> {
            let pid = fleet.proxy_pid(target)?.context("not a proxy")?;
            let port = fleet.single_port(target)?;
            let redis = fleet.redis_pids(target);
            // Most MGET keys should exist: SET over the same keyspace first.
            let fill = Spec {
                test: Test::Set,
                pipeline: 16,
                requests: keyspace,
                clients: args.clients,
                keyspace,
                data_size: SMALL,
            };
            runner::run(&fleet.endpoint(target)?, &fill, args.timeout).context("prefill")?;
            let before = cpu::snapshot(Some(pid), &redis)?;
            let rps = mget::run(port, requests, args.clients, keyspace, args.timeout)?;
            let after = cpu::snapshot(Some(pid), &redis)?;
            let traced = if have_strace {
                strace::count(pid, || {
                    mget::run(port, MGET_TRACED, 1, keyspace, args.timeout).map(|_| ())
                })
                .map(|s| (mget::writes(&s), MGET_TRACED))
                .map_err(|e| format!("{e:#}"))
            } else {
                Err("strace not installed".to_string())
            };
            Ok(MgetRow {
                target,
                requests,
                rps,
                usage: cpu::usage(&before, &after, tck, true),
                nodes: redis.len(),
                traced,
            })
        };
        match one() {
            Ok(r) => {
                eprintln!(
                    "mget: {}: {:.0} req/s, proxy {} µs/key",
                    target.name(),
                    r.rps,
                    r.proxy_us_per_key()
                        .map_or("-".to_string(), |v| format!("{v:.3}"))
                );
                rows.push(r);
            }
            Err(e) => {
                eprintln!("mget: {}: {e:#}", target.name());
                errors.push((target, format!("{e:#}")));
            }
        }
    }
    (rows, errors)
}
