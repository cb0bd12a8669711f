//! `slotway-bench`: redis-benchmark against Slotway (cluster and pool mode),
//! nutcracker, and the same redis-servers directly, with the CPU per request
//! of every process and the proxies' syscalls per request.
//!
//! Owns every process it starts (`fleet::Fleet`: a 3-master cluster, 3
//! standalone servers, three proxies, and two floor proxies with the `floor`
//! section) and each redis-benchmark, strace and perf stat run. Invariants:
//! all are stopped by PID when `run` returns, on success and on error (Drop
//! guards, proxies before servers); every wait and run is bounded in time;
//! CPU is utime+stime from `/proc` before and after each run, divided by
//! `CLK_TCK` and by the run's request count; every target of a case runs
//! back to back in the same benchmark run (`Rounds`), so ratios compare like
//! with like on a noisy shared host. After the CPU matrix come the
//! optional sections (`extras`): idle-client RSS, open-loop latency, MGET
//! CPU per key; the floor, Slotway against a minimal proxy in two shapes
//! (`floor`); and the CPU chart as SVG (`svg`).

mod args;
mod cases;
mod counter;
mod cpu;
mod extras;
mod fleet;
mod floor;
mod hashtag;
mod latency;
mod mget;
mod perfstat;
mod pin;
mod poolconf;
mod proxy;
mod report;
mod rss;
mod runner;
mod strace;
mod svg;
mod sysinfo;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use slotway_fixture::{check_binaries, find_binary};

use crate::args::{Args, Section, USAGE};
use crate::cases::{Case, SMALL, Sizer, Test};
use crate::fleet::{Binaries, Fleet};
use crate::report::{CountedBy, Row, SyscallRow};
use crate::runner::Spec;
use crate::targets::Target;

/// `-r` of every run.
const KEYSPACE: u64 = 100_000;
/// Requests of a traced run: strace slows the proxy many times over, so the
/// window is kept short; but long enough (800 requests per client at `-P
/// 1`) that the 50 clients' connection setup (`accept4`, `setsockopt`,
/// `epoll_ctl`: about 10 syscalls per connection) is not read as a cost
/// per request (it was 0.05 per request with 200 requests per client).
const STRACE_REQUESTS: [(u32, u64); 2] = [(1, 40_000), (16, 50_000)];

fn binaries(args: &Args) -> Result<Binaries> {
    let slotway = match &args.slotway_bin {
        Some(p) => p.clone(),
        None => proxy::sibling_bin("slotway")?,
    };
    let nutcracker = match &args.nutcracker_bin {
        Some(p) => p.clone(),
        None => find_binary("nutcracker")
            .or_else(|| {
                let p = PathBuf::from("/usr/sbin/nutcracker");
                p.is_file().then_some(p)
            })
            .context("nutcracker not found (apt-get install -y nutcracker, or --nutcracker-bin)")?,
    };
    Ok(Binaries {
        slotway,
        nutcracker,
        slotway_threads: args.slotway_threads,
        slotway_scheduler: args.slotway_scheduler.clone(),
        floor: args
            .has(Section::Floor)
            .then(|| proxy::sibling_bin("slotway-floor"))
            .transpose()?,
    })
}

fn spec(case: &Case, requests: u64, clients: u32) -> Spec {
    Spec {
        test: case.test,
        pipeline: case.pipeline,
        requests,
        clients,
        keyspace: KEYSPACE,
        data_size: case.data_size,
    }
}

/// One measured run of `case` against `target`.
fn measure(
    fleet: &mut Fleet,
    args: &Args,
    tck: u64,
    case: &Case,
    target: Target,
    requests: u64,
) -> Result<Row> {
    let proxy = fleet.proxy_pid(target)?;
    let redis = fleet.redis_pids(target);
    let endpoint = fleet.endpoint(target)?;
    let spec = spec(case, requests, args.clients);
    let before = cpu::snapshot(proxy, &redis)?;
    let rps = runner::run(&endpoint, &spec, args.timeout)
        .with_context(|| format!("{} against {}", case.label(), target.name()))?;
    let after = cpu::snapshot(proxy, &redis)?;
    Ok(Row {
        case: *case,
        target,
        requests,
        rps,
        usage: cpu::usage(&before, &after, tck, proxy.is_some()),
    })
}

/// What measured runs need: the processes, the options, the run sizing.
struct Rounds<'a> {
    fleet: &'a mut Fleet,
    args: &'a Args,
    tck: u64,
    sizer: &'a mut Sizer,
    started: Instant,
}

impl Rounds<'_> {
    /// Every case against every target, `--rounds` times. Rounds interleave
    /// (all the cases, then again) so that a burst of noise from the
    /// machine's other tenants hits one run of many cases, not every run of
    /// one case; the targets of a case run back to back.
    fn run(&mut self, cases: &[Case], targets: &[Target]) -> Result<Vec<Row>> {
        let mut rows = Vec::new();
        for &case in std::iter::repeat_n(cases, self.args.rounds as usize).flatten() {
            // GET reads what the SET case before it wrote; SET starts clean.
            if case.test == Test::Set {
                self.fleet.flush_all()?;
            }
            for &target in targets {
                let requests = self.sizer.requests(target, &case);
                let row = measure(self.fleet, self.args, self.tck, &case, target, requests)?;
                self.sizer.record(target, &case, row.rps);
                progress(self.started, &row);
                rows.push(row);
            }
        }
        Ok(rows)
    }
}

/// One line on stderr per measured run, so a long run shows where it is.
fn progress(started: Instant, row: &Row) {
    eprintln!(
        "[{:>4.0}s] {} {}: -n {}, {:.0} req/s, proxy {} µs/req, redis {:.2} µs/req",
        started.elapsed().as_secs_f64(),
        row.case.label(),
        row.target.name(),
        row.requests,
        row.rps,
        row.proxy_us().map_or("-".into(), |p| format!("{p:.2}")),
        row.redis_us(),
    );
}

/// Syscalls per request of each proxy at each depth (SET of 64 B), counted
/// by strace (the measure) and then by `perf stat` (undisturbed);
/// with the `floor` section, of both floor proxies as well.
/// A failure is recorded in its row, not fatal: the CPU table stands alone.
fn trace_all(fleet: &mut Fleet, args: &Args) -> Vec<SyscallRow> {
    let tools = [
        (CountedBy::Strace, "strace", "apt-get install -y strace"),
        (CountedBy::PerfStat, "perf", "apt-get install -y linux-perf"),
    ];
    let mut rows = Vec::new();
    // The floors too when they run: the syscalls a bare hop makes.
    let floors = args
        .has(Section::Floor)
        .then_some([Target::FloorTasks, Target::Floor]);
    // Each proxy process once: its syscalls do not depend on the keys.
    let targets = Target::ALL
        .into_iter()
        .filter(|t| t.own_process())
        .chain(floors.into_iter().flatten());
    for target in targets {
        for (pipeline, requests) in STRACE_REQUESTS {
            let case = Case {
                test: Test::Set,
                pipeline,
                data_size: SMALL,
            };
            for (by, binary, install) in tools {
                let result = if find_binary(binary).is_some() {
                    let mut counted = || -> Result<counter::Syscalls> {
                        let pid = fleet.proxy_pid(target)?.context("not a proxy")?;
                        let endpoint = fleet.endpoint(target)?;
                        let spec = spec(&case, requests, args.clients);
                        let work = || runner::run(&endpoint, &spec, args.timeout).map(|_| ());
                        match by {
                            CountedBy::Strace => strace::count(pid, work),
                            CountedBy::PerfStat => perfstat::count(pid, work),
                        }
                    };
                    counted().map_err(|e| format!("{e:#}"))
                } else {
                    Err(format!("{binary} not installed ({install})"))
                };
                eprintln!(
                    "{}: {} -P {pipeline}: {}",
                    by.label(),
                    target.name(),
                    match &result {
                        Ok(s) => format!("{} syscalls / {requests} requests", s.total()),
                        Err(e) => e.clone(),
                    }
                );
                rows.push(SyscallRow {
                    target,
                    pipeline,
                    by,
                    requests,
                    result,
                });
            }
        }
    }
    rows
}

fn run(args: &Args) -> Result<()> {
    check_binaries(&[
        "redis-server",
        "redis-cli",
        "redis-benchmark",
        "getconf",
        "kill",
    ])?;
    let bins = binaries(args)?;
    let tck = sysinfo::clk_tck()?;
    let started = Instant::now();
    let mut header = sysinfo::machine_lines(&bins.nutcracker, &bins.slotway)?;
    header.push(match bins.slotway_threads {
        Some(n) => format!("- slotway worker threads: {n} (--slotway-threads)"),
        None => "- slotway worker threads: one per core (default)".to_owned(),
    });
    header.push(match &bins.slotway_scheduler {
        Some(s) => format!("- slotway scheduler: {s} (--slotway-scheduler)"),
        None => "- slotway scheduler: per-core (default)".to_owned(),
    });
    let placement = if let Some(layout) = args.pin {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let placement = pin::Placement::for_cpus(cpus, layout)?;
        // Before any child is spawned: they inherit the mask.
        pin::pin_self(&placement.generator)?;
        header.push(placement.describe());
        Some(placement)
    } else {
        None
    };
    let apart = placement
        .as_ref()
        .is_some_and(pin::Placement::proxies_apart);
    // Before any proxy is spawned: they inherit it (10,000 idle clients).
    let nofile = rss::raise_nofile()?;
    let mut fleet = Fleet::start(&bins)?;
    if let Some(placement) = &placement {
        pin::pin_pids(&fleet.all_redis_pids(), &placement.servers)?;
        if apart {
            pin::pin_pids(&fleet.proxy_pids(), &placement.proxies)?;
        }
    }
    eprintln!(
        "[{:>4.0}s] all processes serving",
        started.elapsed().as_secs_f64()
    );

    let mut sizer = Sizer::new(args.secs, args.requests);
    let mut rounds = Rounds {
        fleet: &mut fleet,
        args,
        tck,
        sizer: &mut sizer,
        started,
    };
    let rows = if args.has(Section::Cpu) {
        rounds.run(&cases::matrix(args.quick), &Target::ALL)?
    } else {
        Vec::new()
    };
    let floor_rows = if args.has(Section::Floor) {
        rounds.run(&floor::cases(args.quick), &Target::FLOOR_COMPARED)?
    } else {
        Vec::new()
    };
    let traces = if args.has(Section::Strace) {
        trace_all(&mut fleet, args)
    } else {
        Vec::new()
    };
    let idle = args
        .has(Section::Rss)
        .then(|| extras::idle_all(&mut fleet, args));
    let lat = args
        .has(Section::Latency)
        .then(|| extras::latency_all(&mut fleet, args));
    let mgets = args
        .has(Section::Mget)
        .then(|| extras::mget_all(&mut fleet, args, tck, KEYSPACE));
    // Proxies first, then the servers they talk to (also on error, by Drop).
    drop(fleet);

    for line in header {
        println!("{line}");
    }
    println!(
        "- setup: redis-benchmark -c {} -r {KEYSPACE}, ~{} s per run{}; {} runs in {:.0} s",
        args.clients,
        args.secs,
        args.requests
            .map_or(String::new(), |n| format!(" (fixed -n {n})")),
        rows.len() + floor_rows.len(),
        started.elapsed().as_secs_f64()
    );
    if args.rounds > 1 {
        println!(
            "- CPU runs (the matrix, the floor) {} times, round after round; the summaries and \
             the chart show each case's median",
            args.rounds
        );
    }
    println!("- open-files limit of the bench and its proxies: {nofile}");
    if !rows.is_empty() {
        println!();
        println!("CPU µs per request of each proxy and of the redis-servers of a direct run:");
        println!();
        for line in report::summary_table(&rows) {
            println!("{line}");
        }
        println!();
        println!(
            "Requests/s through Slotway and directly (medians of rounds; each ratio is the \
             median of its rounds' ratios; target at `-P 16`: Slotway cluster ≥ 0.75 × cluster \
             direct, read from the \"same keys\" column: `--cluster` puts each master's keys in \
             one slot, and keys spread over all slots cost the servers more). {}:",
            cpu_sharing(apart)
        );
        println!();
        for line in report::throughput_table(&rows) {
            println!("{line}");
        }
        println!();
        println!("Every run:");
        println!();
        for line in report::runs_table(&rows) {
            println!("{line}");
        }
        if let Some(note) = report::quantization_note(&rows) {
            println!();
            println!("{note}");
        }
    }
    if !floor_rows.is_empty() {
        println!();
        println!(
            "The floor: proxy CPU µs per request through nutcracker, Slotway's pool and \
             slotway-floor, a minimal proxy with Slotway's parsers and no features, in two \
             shapes: tokio tasks as Slotway's data path has them (a task per client and per \
             server, channels between), and one hand-written event loop (the least a proxy hop \
             costs on this host); back to back over the same servers, medians of rounds, MSET \
             left out (the floor does not split it):"
        );
        println!();
        for line in floor::table(&floor_rows) {
            println!("{line}");
        }
        println!();
        println!(
            "Requests/s in the same runs, directly (one redis-benchmark per server) and through \
             each proxy. {}:",
            cpu_sharing(apart)
        );
        println!();
        for line in floor::throughput_table(&floor_rows) {
            println!("{line}");
        }
    }
    if !traces.is_empty() {
        println!();
        println!(
            "Syscalls per request (SET -d 64, all threads; `strace -c -f -p PID`, then `perf \
             stat -e raw_syscalls:sys_enter,syscalls:sys_enter_* -p PID` over as many requests: \
             strace slows the proxy, whose batches then grow, so its counts are the lower):"
        );
        println!();
        for line in report::syscall_table(&traces) {
            println!("{line}");
        }
    }
    print_extras(args, idle, lat, mgets);
    if let Some(path) = &args.svg {
        if rows.is_empty() {
            eprintln!("--svg: no CPU runs (section `cpu` not selected), no chart written");
        } else {
            let chart = svg::grouped_bars(
                "CPU µs per request: proxies and Redis directly (lower is better)",
                "CPU µs per request",
                &svg::SERIES,
                &svg::cpu_groups(&rows),
            );
            std::fs::write(path, chart).with_context(|| format!("write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// How to read the requests/s ratios, given where the proxies ran.
fn cpu_sharing(apart: bool) -> &'static str {
    if apart {
        "The proxies ran on a CPU of their own, redis-benchmark and the servers on the same \
         CPUs in the direct and the proxied runs: a ratio is what inserting the hop costs the \
         clients"
    } else {
        "The generator, the servers and the proxies shared the host's CPUs: a ratio follows the \
         CPU each process spends per request more than the hop itself"
    }
}

type Failures = Vec<(Target, String)>;

fn print_failures(failures: &Failures) {
    for (t, e) in failures {
        println!();
        println!("{}: not measured: {}", t.name(), e.replace('\n', " "));
    }
}

/// The tables of the optional sections that ran.
fn print_extras(
    args: &Args,
    idle: Option<(Vec<rss::RssRow>, Failures)>,
    lat: Option<(Vec<latency::Summary>, Failures)>,
    mgets: Option<(Vec<mget::MgetRow>, Failures)>,
) {
    if let Some((rows, errors)) = idle {
        println!();
        println!(
            "Memory with {} idle clients (each sent one PING and read its PONG; VmRSS of the \
             proxy; target: <= 64 MB):",
            args.idle_clients
        );
        println!();
        for line in rss::table(&rows, &errors) {
            println!("{line}");
        }
    }
    if let Some((rows, errors)) = lat {
        let load = extras::load(args);
        println!();
        println!(
            "Latency at a fixed rate (open loop, measured from each request's scheduled send \
             time): {} connections, {} req/s in all (SET and GET of {} B alternating), {} s per \
             target. Direct runs use one server: the first standalone server, or the first \
             cluster master with keys of its slots (the same keys through Slotway cluster); \
             \"added\" is over the direct run on the same kind of servers, µs:",
            load.conns, load.rate, load.data_size, load.secs
        );
        println!();
        for line in latency::table(&rows) {
            println!("{line}");
        }
        print_failures(&errors);
    }
    if let Some((rows, errors)) = mgets {
        println!();
        println!(
            "MGET of {} random keys (`redis-benchmark -c {} -r {KEYSPACE} MGET key:__rand_int__ \
             ...`, keys prefilled by SET), CPU per key; write syscalls from `strace -c -f` over \
             another {} requests from one client (`-c 1`, so each request is one client batch):",
            mget::KEYS,
            args.clients,
            extras::MGET_TRACED
        );
        println!();
        for line in mget::table(&rows) {
            println!("{line}");
        }
        print_failures(&errors);
    }
}

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("slotway-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slotway-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
