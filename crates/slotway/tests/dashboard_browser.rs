//! The web dashboard in a real headless Chromium (Debian's `chromium`),
//! against a running cluster: the page's own JavaScript must fetch the
//! admin API and show the real nodes in the topology table and the slot
//! map legend; under traffic the overview's charts show a request rate
//! above zero; a slot set migrating is listed under the slot map; after a
//! master is killed and its replica promoted, the failover appears in the
//! events timeline. In pool mode (the binary with
//! `[pools.NAME]` and `--admin`), the Pools section lists the servers and
//! shows an ejected one. With `admin.token` set, the page without a token
//! shows its token form and no data; handed the token once as a URL
//! fragment (`#token=...`, which the page moves into sessionStorage and
//! sends as a bearer header), it shows the pools; a wrong token is
//! refused; with `&pool=NAME` after it (what a pool's "show" button
//! sets), the overview describes that pool. Screenshots are kept as test artifacts
//! (`target/tmp/dashboard-*.png`).
//!
//! Chromium is driven from the command line (`--dump-dom` after the page's
//! scripts ran under a virtual time budget, `--screenshot`), so no driver
//! is needed. Skipped when Chromium is not installed, unless
//! `SLOTWAY_REQUIRE_CHROMIUM=1` (CI installs it and sets it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::admin::{Admin, end_migration, start_migration, wait_migrations};
use common::is_ok;
use slotway_fixture::run_bounded;

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| slotway_fixture::find_binary(b));
    if found.is_none() {
        assert!(
            std::env::var_os("SLOTWAY_REQUIRE_CHROMIUM").is_none(),
            "Chromium is required (SLOTWAY_REQUIRE_CHROMIUM) but not installed"
        );
        eprintln!("chromium not installed: dashboard browser test SKIPPED");
    }
    found
}

/// Chromium's flags for a sandbox-free, offline, throwaway headless run.
fn browser(bin: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1800",
        "--virtual-time-budget=6000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// The page's DOM after its scripts ran.
fn dom(bin: &Path, profile: &Path, url: &str) -> String {
    let mut cmd = browser(bin, profile);
    cmd.args(["--dump-dom", url]);
    let out = run_bounded(&mut cmd, Duration::from_secs(60)).unwrap();
    assert!(out.status.success(), "chromium failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screenshot(bin: &Path, profile: &Path, url: &str, name: &str) {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut cmd = browser(bin, profile);
    cmd.arg(format!("--screenshot={}", path.display())).arg(url);
    let out = run_bounded(&mut cmd, Duration::from_secs(60)).unwrap();
    assert!(out.status.success(), "chromium screenshot failed: {out:?}");
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    assert!(size > 10_000, "screenshot {} is empty", path.display());
    eprintln!("screenshot: {}", path.display());
}

/// Requests through the proxy while the page polls (one client, a few
/// thousand a second at most); stopped and joined on drop, bounded anyway.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(admin: &Admin) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let mut c = admin.client();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(180);
            let mut i = 0u32;
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let _ = c.cmd(&["SET", &format!("traffic:{}", i % 64), "v"]);
                i = i.wrapping_add(1);
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The latest value the chart `id` shows (its caption's `data-value`).
fn chart_value(page: &str, id: &str) -> f64 {
    let tag = opening_tag(page, &format!(r#"id="{id}-value""#));
    let Some((_, rest)) = tag.split_once(r#"data-value=""#) else {
        return 0.0;
    };
    rest.split('"').next().unwrap().parse().unwrap_or(0.0)
}

#[test]
fn dashboard_shows_the_cluster_and_a_failover() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let Some(bin) = chromium() else {
        return;
    };
    let mut cluster = slotway_fixture::Cluster::builder()
        .masters(3)
        .replicas(1)
        .node_timeout_ms(1000)
        .start()
        .expect("cluster");
    let admin = Admin::start(&cluster.seeds(), |c| c.cluster.park_timeout_ms = 500);
    admin.wait_ready();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{}/", admin.admin);

    // A slot of the second range set migrating to the third range's master.
    let map = cluster.slots().unwrap();
    let (src, dst) = (map[1].master.clone(), map[2].master.clone());
    let slot = map[1].start + 3;
    start_migration(&cluster, slot, &src, &dst);
    wait_migrations(&admin, 1);

    // Under traffic: the charts get a request rate (sampled between two
    // polls, which virtual time may bring close together: a few tries).
    let traffic = Traffic::start(&admin);
    let mut page = String::new();
    for _ in 0..4 {
        page = dom(&bin, profile.path(), &url);
        if chart_value(&page, "chart-rps") > 0.0 {
            break;
        }
    }
    for chart in ["chart-rps", "chart-latency", "chart-errors"] {
        assert!(
            page.contains(&format!(r#"<canvas id="{chart}""#)),
            "no {chart}:\n{page}"
        );
    }
    assert!(
        chart_value(&page, "chart-rps") > 0.0,
        "no request rate charted:\n{page}"
    );
    let moving = format!("slot {slot}: {src} \u{2192} {dst} (migrating, importing)");
    assert!(page.contains(&moving), "{moving} not listed:\n{page}");
    for master in cluster.master_addrs() {
        assert!(
            page.contains(&master),
            "master {master} missing from the dashboard:\n{page}"
        );
    }
    assert!(page.contains("16384"), "covered slots not shown:\n{page}");
    assert!(
        page.contains(r#"id="pools-section" hidden"#),
        "the Pools section shows in cluster mode:\n{page}"
    );
    screenshot(&bin, profile.path(), &url, "dashboard-before.png");
    drop(traffic);
    end_migration(&cluster, slot, &src, &dst);
    wait_migrations(&admin, 0);

    // Kill the master of the first range; its replica gets promoted.
    let victim = map[0].clone();
    let replica = victim.replicas[0].clone();
    let mut c = admin.client();
    let key = common::key_in_range("ui", victim.start, victim.end);
    assert!(is_ok(&c.cmd(&["SET", &key, "v"])));
    let i = cluster.index_of(&victim.master).unwrap();
    cluster.node_mut(i).kill();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let _ = c.cmd(&["GET", &key]);
        let events = admin.json("/api/v1/events");
        let failover = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "failover");
        if failover {
            break;
        }
        assert!(Instant::now() < deadline, "no failover event: {events}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let page = dom(&bin, profile.path(), &url);
    assert!(
        page.contains("failover"),
        "the failover is not in the timeline:\n{page}"
    );
    assert!(
        page.contains(&replica),
        "the promoted replica is not shown:\n{page}"
    );
    screenshot(&bin, profile.path(), &url, "dashboard-after-failover.png");
}

const TOKEN: &str = "dash-token-5150";

/// The opening tag of the element whose attributes include `marker`.
fn opening_tag<'a>(page: &'a str, marker: &str) -> &'a str {
    let at = page
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker}:\n{page}"));
    let start = page[..at].rfind('<').unwrap();
    let end = at + page[at..].find('>').unwrap();
    &page[start..=end]
}

#[test]
fn dashboard_shows_pools_and_an_ejected_server() {
    slotway_fixture::require_binaries(&["redis-server", "redis-cli"]);
    let Some(bin) = chromium() else {
        return;
    };
    let servers: Vec<_> = (0..2)
        .map(|_| slotway_fixture::RedisServer::start().unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (listen, admin_port) = (slotway_fixture::free_port(), slotway_fixture::free_port());
    let api = slotway_fixture::free_port();
    let path = dir.path().join("slotway.toml");
    std::fs::write(
        &path,
        format!(
            "[admin]\ntoken = \"{TOKEN}\"\n\n[pools.web]\nlisten = \"127.0.0.1:{listen}\"\nredis = true\nauto_eject_hosts = true\nservers = [\"{}:1 first\", \"{}:1 second\"]\n\n[pools.api]\nlisten = \"127.0.0.1:{api}\"\nredis = true\nservers = [\"{}:1\"]\n",
            servers[0].addr(),
            servers[1].addr(),
            servers[1].addr()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_slotway"))
        .args(["--config", &path.display().to_string()])
        .args(["--admin", &format!("127.0.0.1:{admin_port}")])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _guard = common::OwnedChild(child);
    common::wait_listening(listen, "the pool");
    common::wait_listening(admin_port, "the admin API");
    let admin: std::net::SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    let r = common::admin::http_with(
        admin,
        "POST",
        "/api/v1/pools/web/servers/second/eject",
        &format!("Authorization: Bearer {TOKEN}\r\n"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{admin}/");

    // No token: the page loads, asks for one, shows no data.
    let page = dom(&bin, profile.path(), &url);
    assert!(
        !opening_tag(&page, r#"id="login""#).contains("hidden"),
        "the token form is not shown:\n{page}"
    );
    assert!(page.contains("needs its token"), "{page}");
    assert!(
        !page.contains(&servers[0].addr()) && page.contains(r#"<span id="error"></span>"#),
        "data or an error shown without a token:\n{page}"
    );
    screenshot(&bin, profile.path(), &url, "dashboard-token-form.png");

    // A wrong token is refused (and the form says so).
    let page = dom(&bin, profile.path(), &format!("{url}#token=wrong-token"));
    assert!(page.contains("refused this token"), "{page}");
    assert!(!page.contains(&servers[0].addr()), "{page}");

    // The right token, handed over once in the fragment.
    let url = format!("{url}#token={TOKEN}");
    let page = dom(&bin, profile.path(), &url);
    assert!(
        opening_tag(&page, r#"id="login""#).contains("hidden"),
        "the token form still shows with the right token:\n{page}"
    );
    assert!(!page.contains(TOKEN), "the token is in the DOM:\n{page}");
    assert!(
        !page.contains(r#"id="pools-section" hidden"#),
        "the Pools section is hidden in pool mode:\n{page}"
    );
    for s in &servers {
        assert!(
            page.contains(&s.addr()),
            "server {} missing:\n{page}",
            s.addr()
        );
    }
    assert!(
        page.contains("ejected (operator)"),
        "the ejected server is not shown as such:\n{page}"
    );
    screenshot(&bin, profile.path(), &url, "dashboard-pools.png");

    // Choosing a pool ("#pool=api", what its "show" button sets): the
    // overview, topology and commands describe that pool.
    let page = dom(&bin, profile.path(), &format!("{url}&pool=api"));
    assert!(page.contains("· pool api"), "pool api not shown:\n{page}");
    assert!(
        page.contains(&format!("· pool · 127.0.0.1:{api}")) && page.contains("shown above"),
        "{page}"
    );
}
