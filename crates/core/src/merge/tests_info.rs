//! INFO merge tests over two real Redis 7.0.15 `INFO everything` texts
//! (testdata/, two cluster-enabled nodes after a few commands; stored with
//! LF line ends, sent as Redis sends them, with CRLF).

use bytes::{Bytes, BytesMut};
use slotway_resp::{Protocol, encode};

use super::info::MAXED;
use super::stats::per_call;
use super::*;

const NODE1: &str = include_str!("testdata/info_node1.txt");
const NODE2: &str = include_str!("testdata/info_node2.txt");

const PROXY: ProxySection<'static> = ProxySection {
    version: "0.1.0",
    masters: 2,
    topology_version: 7,
    covered_slots: 16384,
    commands: &[],
};

const SLOTWAY: &str = "# Slotway\r\nslotway_version:0.1.0\r\ncluster_masters:2\r\n\
                       topology_version:7\r\ncluster_slots_covered:16384\r\n";

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn reply(text: &str, proto: Protocol) -> Bytes {
    let mut out = BytesMut::new();
    encode::verbatim(&mut out, crlf(text).as_bytes(), proto);
    out.freeze()
}

fn both(proto: Protocol) -> Vec<Bytes> {
    vec![reply(NODE1, proto), reply(NODE2, proto)]
}

/// The text of a merged reply, checking its framing for `proto`.
fn text_of(out: &Bytes, proto: Protocol) -> String {
    let lead = match proto {
        Protocol::Resp2 => b'$',
        Protocol::Resp3 => b'=',
    };
    assert_eq!(out.first(), Some(&lead), "{out:?}");
    let text = frame::text(out).unwrap_or_else(|| panic!("not a text reply: {out:?}"));
    String::from_utf8(text.to_vec()).unwrap()
}

/// `key`'s value in section `section` of an INFO text.
fn value<'t>(text: &'t str, section: &str, key: &str) -> Option<&'t str> {
    section_lines(text, section)
        .into_iter()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
}

/// The lines of section `section` (sections are separated by empty lines).
fn section_lines<'t>(text: &'t str, section: &str) -> Vec<&'t str> {
    let header = format!("# {section}");
    for chunk in text.split("\r\n\r\n") {
        let mut lines = chunk.split("\r\n").filter(|l| !l.is_empty());
        if lines.next() == Some(header.as_str()) {
            return lines.collect();
        }
    }
    Vec::new()
}

fn headers(text: &str) -> Vec<&str> {
    text.split("\r\n").filter(|l| l.starts_with("# ")).collect()
}

#[test]
fn two_nodes_give_totals_in_the_first_nodes_layout() {
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        let text = text_of(&info(&both(proto), &[b"everything"], proto, &PROXY), proto);
        let mut expected_headers = headers(&crlf(NODE1))
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>();
        expected_headers.push("# Slotway".into());
        expected_headers.push("# Slotway_commandstats".into());
        assert_eq!(headers(&text), expected_headers);
        assert!(
            text.ends_with(&format!("\r\n\r\n{SLOTWAY}\r\n# Slotway_commandstats\r\n")),
            "{text}"
        );
        assert!(!text.contains("\r\n\r\n\r\n"));

        assert_eq!(value(&text, "Memory", "used_memory"), Some("3602720"));
        assert_eq!(value(&text, "Memory", "used_memory_human"), Some("1.73M"));
        assert_eq!(
            value(&text, "Memory", "mem_fragmentation_ratio"),
            Some("7.23")
        );
        assert_eq!(
            value(&text, "Memory", "maxmemory_policy"),
            Some("noeviction")
        );
        assert_eq!(value(&text, "Clients", "connected_clients"), Some("2"));
        assert_eq!(value(&text, "Stats", "total_error_replies"), Some("7"));
        assert_eq!(
            value(&text, "Stats", "instantaneous_input_kbps"),
            value(&crlf(NODE1), "Stats", "instantaneous_input_kbps")
        );
        assert_eq!(
            value(&text, "Persistence", "rdb_changes_since_last_save"),
            Some("16")
        );
        assert_eq!(
            value(&text, "Persistence", "rdb_last_bgsave_time_sec"),
            Some("-1")
        );
        assert_eq!(
            value(&text, "Persistence", "rdb_last_save_time"),
            Some("1795319015")
        );
        assert_eq!(
            value(&text, "Persistence", "rdb_last_bgsave_status"),
            Some("ok")
        );

        // Server, Replication, CPU, Latencystats: the first node's.
        assert_eq!(value(&text, "Server", "process_id"), Some("24235"));
        assert_eq!(value(&text, "Server", "tcp_port"), Some("23781"));
        assert_eq!(value(&text, "Server", "redis_mode"), Some("standalone"));
        assert_eq!(value(&text, "Replication", "role"), Some("master"));
        for section in ["Replication", "CPU", "Latencystats", "Modules"] {
            assert_eq!(
                section_lines(&text, section),
                section_lines(&crlf(NODE1), section)
            );
        }

        assert_eq!(section_lines(&text, "Cluster"), ["cluster_enabled:0"]);
        assert_eq!(
            section_lines(&text, "Keyspace"),
            ["db0:keys=11,expires=3,avg_ttl=1163399"]
        );
        assert_eq!(
            section_lines(&text, "Errorstats"),
            ["errorstat_CROSSSLOT:count=1", "errorstat_ERR:count=6"]
        );
    }
}

#[test]
fn summed_sections_add_every_integer_of_both_nodes() {
    let (one, two) = (crlf(NODE1), crlf(NODE2));
    let text = text_of(
        &info(&both(Protocol::Resp2), &[], Protocol::Resp2, &PROXY),
        Protocol::Resp2,
    );
    let mut checked = 0;
    for section in ["Clients", "Memory", "Stats", "Persistence"] {
        for line in section_lines(&one, section) {
            let (key, v1) = line.split_once(':').unwrap();
            let merged = value(&text, section, key).unwrap();
            let (Ok(a), Some(Ok(b))) = (
                v1.parse::<i64>(),
                value(&two, section, key).map(str::parse::<i64>),
            ) else {
                assert_eq!(merged, v1, "{key} is kept from the first node");
                continue;
            };
            let expected = if MAXED.contains(&key) {
                a.max(b)
            } else {
                a + b
            };
            assert_eq!(merged, expected.to_string(), "{key}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn commandstats_are_summed_per_command_with_usec_per_call_recomputed() {
    let text = text_of(
        &info(
            &both(Protocol::Resp2),
            &[b"commandstats"],
            Protocol::Resp2,
            &PROXY,
        ),
        Protocol::Resp2,
    );
    assert_eq!(
        section_lines(&text, "Commandstats"),
        [
            "cmdstat_mget:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0",
            "cmdstat_get:calls=3,usec=8,usec_per_call=2.67,rejected_calls=0,failed_calls=0",
            "cmdstat_incr:calls=5,usec=21,usec_per_call=4.20,rejected_calls=0,failed_calls=1",
            "cmdstat_lpush:calls=1,usec=11,usec_per_call=11.00,rejected_calls=0,failed_calls=0",
            "cmdstat_select:calls=1,usec=2,usec_per_call=2.00,rejected_calls=0,failed_calls=1",
            "cmdstat_set:calls=9,usec=127,usec_per_call=14.11,rejected_calls=0,failed_calls=1",
            "cmdstat_config|resetstat:calls=2,usec=107,usec_per_call=53.50,rejected_calls=0,failed_calls=0",
            "cmdstat_del:calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
            "cmdstat_hset:calls=1,usec=11,usec_per_call=11.00,rejected_calls=0,failed_calls=0",
            "cmdstat_dbsize:calls=1,usec=0,usec_per_call=0.00,rejected_calls=0,failed_calls=0",
        ]
    );
    // The nodes' texts only had the asked section: no Slotway section, but
    // the proxy's own commandstats follow the nodes'.
    assert!(!text.contains("# Slotway\r\n"));
    assert!(
        text.ends_with("\r\n\r\n# Slotway_commandstats\r\n"),
        "{text}"
    );
}

#[test]
fn usec_per_call_is_printed_like_redis() {
    // `%.2f` of `(float)usec / calls`: single precision, ties to even.
    assert_eq!(per_call(0, 0), "0.00");
    assert_eq!(per_call(62, 3), "20.67");
    assert_eq!(per_call(1, 8), "0.12");
    assert_eq!(per_call(3, 8), "0.38");
    assert_eq!(per_call(123_456_789_012, 7), "17636683776.00");
    assert_eq!(per_call(16_777_217, 1), "16777216.00");
}

#[test]
fn one_node_comes_back_unchanged_but_for_the_proxys_lines() {
    for proto in [Protocol::Resp2, Protocol::Resp3] {
        let text = text_of(&info(&[reply(NODE1, proto)], &[], proto, &PROXY), proto);
        let expected = crlf(NODE1)
            .replace("redis_mode:cluster", "redis_mode:standalone")
            .replace("cluster_enabled:1", "cluster_enabled:0");
        assert_eq!(text, format!("{expected}\r\n{SLOTWAY}"));
    }
}

#[test]
fn keyspace_merges_every_db_in_order() {
    let a = "# Keyspace\ndb0:keys=10,expires=0,avg_ttl=0\ndb2:keys=4,expires=2,avg_ttl=1000\n";
    let b = "# Keyspace\ndb1:keys=1,expires=1,avg_ttl=500\ndb0:keys=5,expires=5,avg_ttl=3000\n\
             db2:keys=8,expires=6,avg_ttl=2000\ndb10:keys=1,expires=0,avg_ttl=0\n";
    let c = "# Keyspace\n";
    let replies = [
        reply(a, Protocol::Resp2),
        reply(b, Protocol::Resp2),
        reply(c, Protocol::Resp2),
    ];
    let text = text_of(
        &info(&replies, &[b"keyspace"], Protocol::Resp2, &PROXY),
        Protocol::Resp2,
    );
    assert_eq!(
        text,
        "# Keyspace\r\n\
         db0:keys=15,expires=5,avg_ttl=3000\r\n\
         db1:keys=1,expires=1,avg_ttl=500\r\n\
         db2:keys=12,expires=8,avg_ttl=1750\r\n\
         db10:keys=1,expires=0,avg_ttl=0\r\n"
    );
}

#[test]
fn errorstats_and_unknown_fields_are_summed_and_text_kept() {
    let a = "# Errorstats\nerrorstat_ERR:count=2\nodd line\n\n# Keyspace\ndb0:keys=1,expires=0,avg_ttl=0,subexpiry=3,x=a\n";
    let b = "# Errorstats\nerrorstat_WRONGTYPE:count=1\nerrorstat_ERR:count=5\n\n# Keyspace\ndb0:keys=2,expires=0,avg_ttl=0,subexpiry=4,x=b\n";
    let replies = [reply(a, Protocol::Resp3), reply(b, Protocol::Resp2)];
    let text = text_of(
        &info(
            &replies,
            &[b"errorstats", b"keyspace"],
            Protocol::Resp2,
            &PROXY,
        ),
        Protocol::Resp2,
    );
    assert_eq!(
        text,
        "# Errorstats\r\nerrorstat_ERR:count=7\r\nodd line\r\nerrorstat_WRONGTYPE:count=1\r\n\r\n\
         # Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0,subexpiry=7,x=a\r\n"
    );
}

#[test]
fn maxed_fields_take_the_largest_value() {
    let a = "# Persistence\nloading:0\nrdb_bgsave_in_progress:1\nrdb_last_save_time:1700000000\n\
             rdb_last_bgsave_time_sec:-1\nrdb_saves:1\n";
    let b = "# Persistence\nloading:0\nrdb_bgsave_in_progress:1\nrdb_last_save_time:1700000100\n\
             rdb_last_bgsave_time_sec:3\nrdb_saves:2\n";
    let replies = [
        reply(a, Protocol::Resp2),
        reply(b, Protocol::Resp2),
        reply(a, Protocol::Resp2),
    ];
    let text = text_of(
        &info(&replies, &[b"persistence"], Protocol::Resp2, &PROXY),
        Protocol::Resp2,
    );
    assert_eq!(
        text,
        "# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:1\r\nrdb_last_save_time:1700000100\r\n\
         rdb_last_bgsave_time_sec:3\r\nrdb_saves:4\r\n"
    );
}

#[test]
fn slotway_section_follows_the_section_arguments() {
    let with = |args: &[&[u8]], nodes: &str| {
        let replies = [reply(nodes, Protocol::Resp2)];
        text_of(
            &info(&replies, args, Protocol::Resp2, &PROXY),
            Protocol::Resp2,
        )
    };
    let server = "# Server\nredis_version:7.0.15\nredis_mode:cluster\n";
    for (args, commandstats) in [
        (&[][..], false),
        (&[&b"default"[..]], false),
        (&[b"ALL"], true),
        (&[b"Everything"], true),
        (&[b"server", b"SlotWay"], true),
    ] {
        let tail = if commandstats {
            "\r\n# Slotway_commandstats\r\n"
        } else {
            ""
        };
        assert_eq!(
            with(args, server),
            format!(
                "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n{SLOTWAY}{tail}"
            ),
            "{args:?}"
        );
    }
    assert!(!with(&[b"server"], server).contains("Slotway"));
    // Nodes answer an empty text for a section they do not know.
    assert_eq!(
        with(&[b"slotway"], ""),
        format!("{SLOTWAY}\r\n# Slotway_commandstats\r\n")
    );
    assert_eq!(with(&[b"memory"], ""), "");
    let odd = ProxySection {
        version: "1\r\nx",
        ..PROXY
    };
    let out = info(
        &[reply("", Protocol::Resp3)],
        &[b"slotway"],
        Protocol::Resp3,
        &odd,
    );
    assert!(text_of(&out, Protocol::Resp3).starts_with("# Slotway\r\nslotway_version:1  x\r\n"));
}

#[test]
fn errors_come_first_and_non_texts_are_refused() {
    let good = reply(NODE1, Protocol::Resp2);
    let loading = Bytes::from_static(b"-LOADING Redis is loading the dataset in memory\r\n");
    let out = info(
        &[good.clone(), Bytes::from_static(b":1\r\n"), loading.clone()],
        &[],
        Protocol::Resp2,
        &PROXY,
    );
    assert_eq!(out, loading);
    let blob = Bytes::from_static(b"!5\r\nERR x\r\n");
    assert_eq!(
        info(&[blob.clone(), good.clone()], &[], Protocol::Resp3, &PROXY),
        blob
    );
    for (bad, got) in [
        (&b":1\r\n"[..], "got an integer"),
        (b"$-1\r\n", "got a null"),
        (b"_\r\n", "got a null"),
        (b"$10\r\n# Server\r\n", "got a malformed reply"),
        (b"=3\r\ntxt\r\n", "got a verbatim string"),
        (b"*1\r\n$1\r\nx\r\n", "got an array"),
    ] {
        let out = info(
            &[good.clone(), Bytes::copy_from_slice(bad)],
            &[],
            Protocol::Resp2,
            &PROXY,
        );
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(
            text.starts_with("-ERR slotway: expected an INFO text from every node"),
            "{text}"
        );
        assert!(text.contains(got), "{text}");
    }
    assert_eq!(
        info(&[], &[], Protocol::Resp2, &PROXY),
        Bytes::from_static(b"-ERR slotway: no node answered\r\n")
    );
}

#[test]
fn proxy_commandstats_in_redis_format() {
    let commands = [crate::metrics::commands::CommandSnapshot {
        name: "client|list",
        calls: 3,
        usec: 10,
        failed: 1,
    }];
    let proxy = ProxySection {
        commands: &commands,
        ..PROXY
    };
    let with = |args: &[&[u8]]| {
        let out = info(&[reply("", Protocol::Resp2)], args, Protocol::Resp2, &proxy);
        text_of(&out, Protocol::Resp2)
    };
    let section = "# Slotway_commandstats\r\ncmdstat_client|list:calls=3,usec=10,\
                   usec_per_call=3.33,rejected_calls=0,failed_calls=1\r\n";
    assert_eq!(with(&[b"commandstats"]), section);
    assert!(with(&[b"all"]).ends_with(&format!("\r\n{section}")));
    assert!(!with(&[]).contains("Slotway_commandstats"));
    assert!(!with(&[b"default"]).contains("Slotway_commandstats"));
}
