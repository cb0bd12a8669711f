//! Unit tests of the nutcracker command line; each expectation was checked
//! against the real nutcracker 0.5.0 binary (`nutcracker ARGS -t -c ok.yml`).

#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

fn parse(args: &[&str]) -> Result<Command, CliError> {
    NutcrackerArgs::parse(args.iter().map(OsString::from))
}

fn run(args: &[&str]) -> NutcrackerArgs {
    match parse(args).unwrap() {
        Command::Run(a) => a,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn test_conf(args: &[&str]) -> NutcrackerArgs {
    match parse(args).unwrap() {
        Command::TestConf(a) => a,
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn defaults() {
    let a = run(&[]);
    assert_eq!(a, NutcrackerArgs::default());
    assert_eq!(a.verbosity, 5);
    assert_eq!(a.conf_file, PathBuf::from("conf/nutcracker.yml"));
    assert_eq!(a.stats_port, 22222);
    assert_eq!(a.stats_addr, "0.0.0.0");
    assert_eq!(a.stats_interval, Duration::from_secs(30));
    assert_eq!(a.mbuf_size, 16384);
    assert_eq!((a.output, a.pid_file, a.daemonize), (None, None, false));
}

#[test]
fn every_option_short_and_long() {
    let short = run(&[
        "-d",
        "-v",
        "7",
        "-o",
        "/tmp/log",
        "-c",
        "/etc/n.yml",
        "-s",
        "2222",
        "-a",
        "127.0.0.1",
        "-i",
        "1000",
        "-p",
        "/tmp/pid",
        "-m",
        "512",
    ]);
    let long = run(&[
        "--daemonize",
        "--verbose=7",
        "--output",
        "/tmp/log",
        "--conf-file=/etc/n.yml",
        "--stats-port",
        "2222",
        "--stats-addr=127.0.0.1",
        "--stats-interval=1000",
        "--pid-file",
        "/tmp/pid",
        "--mbuf-size=512",
    ]);
    assert_eq!(short, long);
    assert!(short.daemonize);
    assert_eq!(short.verbosity, 7);
    assert_eq!(short.output, Some(PathBuf::from("/tmp/log")));
    assert_eq!(short.conf_file, PathBuf::from("/etc/n.yml"));
    assert_eq!(short.stats_port, 2222);
    assert_eq!(short.stats_addr, "127.0.0.1");
    assert_eq!(short.stats_interval, Duration::from_secs(1));
    assert_eq!(short.pid_file, Some(PathBuf::from("/tmp/pid")));
    assert_eq!(short.mbuf_size, 512);
}

#[test]
fn getopt_forms() {
    // Attached values and bundles, as getopt allows.
    assert_eq!(test_conf(&["-tcok.yml"]).conf_file, PathBuf::from("ok.yml"));
    assert_eq!(
        test_conf(&["-tc", "ok.yml"]).conf_file,
        PathBuf::from("ok.yml")
    );
    let a = test_conf(&["-dtv4", "-c/x.yml"]);
    assert!(a.daemonize);
    assert_eq!(a.verbosity, 4);
    assert_eq!(a.conf_file, PathBuf::from("/x.yml"));
    // A separate value is taken even when it looks like an option.
    assert_eq!(run(&["-c", "-t"]).conf_file, PathBuf::from("-t"));
    // Unambiguous prefixes of long names.
    assert_eq!(
        test_conf(&["--conf", "ok.yml", "--test"]).conf_file,
        PathBuf::from("ok.yml")
    );
    assert_eq!(
        test_conf(&["-t", "--c", "ok.yml"]).conf_file,
        PathBuf::from("ok.yml")
    );
    // `=` keeps everything after the first one.
    assert_eq!(run(&["--conf-file=a=b"]).conf_file, PathBuf::from("a=b"));
    // Operands are ignored (kept for a warning), before or after options.
    let a = test_conf(&["extra", "-t", "-c", "ok.yml", "more"]);
    assert_eq!(
        a.operands,
        vec![OsString::from("extra"), OsString::from("more")]
    );
    assert_eq!(a.conf_file, PathBuf::from("ok.yml"));
    // `--` ends the options; `-` alone is an operand.
    let a = run(&["--", "-t"]);
    assert_eq!(a.operands, vec![OsString::from("-t")]);
    assert_eq!(run(&["-"]).operands, vec![OsString::from("-")]);
    // The last value wins.
    assert_eq!(
        test_conf(&["-t", "-c", "a", "-c", "b"]).conf_file,
        PathBuf::from("b")
    );
}

#[test]
fn show_wins() {
    let show = |args: &[&str]| match parse(args).unwrap() {
        Command::Show(s) => s,
        other => panic!("{args:?}: {other:?}"),
    };
    assert_eq!(show(&["-V"]), Show::default());
    assert_eq!(
        show(&["--version", "-t", "-c", "nonexistent"]),
        Show::default()
    );
    assert!(show(&["-h"]).help);
    assert!(show(&["-Vh"]).help);
    assert!(show(&["-t", "-D", "-c", "x"]).describe_stats);
    let both = show(&["-h", "-D"]);
    assert!(both.help && both.describe_stats);
    let text = both.text();
    assert!(
        text.starts_with("This is nutcracker-0.5.0 (slotway "),
        "{text}"
    );
    assert!(
        text.contains("--conf-file=S") && text.contains("server stats:"),
        "{text}"
    );
    assert_eq!(Show::default().text().lines().count(), 1);
}

#[test]
fn values_checked_like_nutcracker() {
    let err = |args: &[&str]| parse(args).unwrap_err();
    assert_eq!(err(&["-m", "1"]), CliError::MbufSize(1));
    assert_eq!(err(&["-m", "511"]), CliError::MbufSize(511));
    assert_eq!(err(&["-m", "16777217"]), CliError::MbufSize(16_777_217));
    assert_eq!(run(&["-m", "16777216"]).mbuf_size, 16_777_216);
    assert_eq!(run(&["-m", "0512"]).mbuf_size, 512);
    assert_eq!(err(&["-m", "0"]), CliError::ZeroMbuf("0".into()));
    assert_eq!(err(&["-m", "x"]), CliError::ZeroMbuf("x".into()));
    assert_eq!(err(&["-m", "-5"]), CliError::ZeroMbuf("-5".into()));
    assert_eq!(err(&["-s", "0"]), CliError::BadPort(0));
    assert_eq!(err(&["-s", "70000"]), CliError::BadPort(70000));
    assert_eq!(run(&["-s", "00080"]).stats_port, 80);
    for (args, option) in [
        (&["-s", "+5"][..], 's'),
        (&["-s", " 5"][..], 's'),
        (&["--stats-port="][..], 's'),
        (&["-v", "-1"][..], 'v'),
        (&["-v", ""][..], 'v'),
        (&["-v", "abc"][..], 'v'),
        (&["-v", "2147483648"][..], 'v'),
        (&["-i", "5x"][..], 'i'),
        (&["-i", "-1"][..], 'i'),
    ] {
        assert!(
            matches!(err(args), CliError::NotNumber { option: o, .. } if o == option),
            "{args:?}"
        );
    }
    // Accepted by nutcracker: huge log levels (clamped), 0 interval, any addr.
    assert_eq!(run(&["-v", "99"]).verbosity, 11);
    assert_eq!(run(&["-v", "2147483647"]).verbosity, 11);
    assert_eq!(run(&["-i", "0"]).stats_interval, Duration::ZERO);
    assert_eq!(run(&["-a", "1.2.3.4.5"]).stats_addr, "1.2.3.4.5");
    // Empty values: `-o ''` logs to stderr; `-c ''` is kept (and will fail to open).
    assert_eq!(run(&["-o", ""]).output, None);
    assert_eq!(run(&["-c", ""]).conf_file, PathBuf::new());
}

#[test]
fn syntax_errors() {
    let err = |args: &[&str]| parse(args).unwrap_err();
    assert_eq!(err(&["--bogus"]), CliError::Unknown("--bogus".into()));
    assert_eq!(err(&["-x"]), CliError::Unknown("-x".into()));
    assert_eq!(err(&["-?"]), CliError::Unknown("-?".into()));
    assert_eq!(err(&["-tx"]), CliError::Unknown("-x".into()));
    assert!(matches!(err(&["--stats", "5"]), CliError::Ambiguous { .. }));
    assert!(matches!(err(&["--ver"]), CliError::Ambiguous { .. }));
    assert!(matches!(err(&["--d"]), CliError::Ambiguous { .. }));
    assert_eq!(err(&["--help=3"]), CliError::UnexpectedValue("help"));
    for (args, option, what) in [
        (&["-c"][..], 'c', "a file name"),
        (&["--conf-file"][..], 'c', "a file name"),
        (&["-p"][..], 'p', "a file name"),
        (&["-o"][..], 'o', "a file name"),
        (&["-a"][..], 'a', "a string"),
        (&["-v"][..], 'v', "a number"),
        (&["--verbose"][..], 'v', "a number"),
        (&["-t", "-m"][..], 'm', "a number"),
    ] {
        assert_eq!(err(args), CliError::MissingValue(option, what), "{args:?}");
    }
    assert_eq!(
        err(&["-v", "x"]).to_string(),
        "option -v requires a number (got \"x\")"
    );
    assert_eq!(
        err(&["-m", "1"]).to_string(),
        "mbuf chunk size must be between 512 and 16777216 bytes (got 1)"
    );
    // An error wins over -V, as in nutcracker.
    assert!(parse(&["-V", "-m", "1"]).is_err());
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_kept_exactly() {
    use std::os::unix::ffi::OsStrExt;
    let raw = OsStr::from_bytes(b"/tmp/\xff.yml").to_os_string();
    let mut attached = OsString::from("-c");
    attached.push(&raw);
    for args in [vec![OsString::from("-c"), raw.clone()], vec![attached]] {
        match NutcrackerArgs::parse(args).unwrap() {
            Command::Run(a) => assert_eq!(a.conf_file.as_os_str(), raw.as_os_str()),
            other => panic!("{other:?}"),
        }
    }
    let mut long = OsString::from("--conf-file=");
    long.push(&raw);
    match NutcrackerArgs::parse([long]).unwrap() {
        Command::Run(a) => assert_eq!(a.conf_file.as_os_str(), raw.as_os_str()),
        other => panic!("{other:?}"),
    }
}
