//! Configuration: any text is either refused with an error or validated
//! into settings that respect the documented ranges; never a panic. Inputs
//! starting with 0x01 are turned into a well-formed file with fuzzed numbers
//! so that validation, not the TOML parser, is what gets exercised.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slotway_core::Config;

const KEYS: [(&str, &str); 24] = [
    ("proxy", "threads"),
    ("proxy", "shutdown_grace_ms"),
    ("proxy", "max_inflight_per_client"),
    ("proxy", "maxclients"),
    ("proxy", "timeout"),
    ("proxy", "tcp_keepalive"),
    ("cluster", "connections_per_node"),
    ("cluster", "refresh_interval_ms"),
    ("cluster", "refresh_debounce_ms"),
    ("cluster", "connect_timeout_ms"),
    ("cluster", "query_timeout_ms"),
    ("cluster", "reply_timeout_ms"),
    ("cluster", "request_timeout_ms"),
    ("cluster", "max_redirects"),
    ("cluster", "retry_delay_ms"),
    ("cluster", "park_timeout_ms"),
    ("limits", "max_bulk_len"),
    ("limits", "max_multibulk_len"),
    ("limits", "max_inline_len"),
    ("limits", "client_query_buffer_limit"),
    ("limits", "client_output_buffer_hard_limit"),
    ("limits", "client_output_buffer_soft_limit"),
    ("limits", "client_output_buffer_soft_seconds"),
    ("limits", "max_buffered_bytes"),
];

fuzz_target!(|data: &[u8]| {
    let text = match data.split_first() {
        Some((1, rest)) => structured(rest),
        _ => match std::str::from_utf8(data) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        },
    };
    let Ok(config) = Config::from_toml(&text) else {
        return;
    };
    if let Ok(s) = config.validate() {
        assert!(s.threads >= 1);
        assert!(s.max_inflight_per_client >= 1);
        assert!((1..=64).contains(&s.connections_per_node));
        assert!(!s.seeds.is_empty());
        assert!(s.limits.max_bulk_len > 0 && s.limits.max_multibulk_len > 0);
        assert!(s.limits.max_inline_len >= 16);
        assert!(s.client_limits.maxclients >= 1);
        assert!(s.client_limits.query_buffer >= 1024 * 1024);
        let _ = format!("{s:?}");
    }
});

/// A file with a seed and a few keys set to fuzzed integers (some
/// negative, some huge, some floats), grouped under their sections.
fn structured(bytes: &[u8]) -> String {
    let mut sections: Vec<(&str, String)> = vec![
        ("proxy", String::new()),
        ("cluster", "seeds = [\"127.0.0.1:7001\"]\n".to_owned()),
        ("limits", String::new()),
    ];
    let mut used = [false; KEYS.len()];
    for chunk in bytes.chunks(9) {
        let Some((&which, value)) = chunk.split_first() else {
            continue;
        };
        let index = usize::from(which) % KEYS.len();
        // A key given twice is a TOML error: keep the first.
        if std::mem::replace(&mut used[index], true) {
            continue;
        }
        let (section, key) = KEYS[index];
        let mut raw = [0u8; 8];
        raw[..value.len()].copy_from_slice(value);
        let n = i64::from_le_bytes(raw);
        let value = match which >> 6 {
            0 => (n & 0xffff).to_string(),
            1 => n.to_string(),
            2 => format!("{}.5", n & 0xff),
            _ => (n as u64 >> 1).to_string(),
        };
        if let Some((_, body)) = sections.iter_mut().find(|(s, _)| *s == section) {
            body.push_str(&format!("{key} = {value}\n"));
        }
    }
    sections
        .iter()
        .map(|(s, body)| format!("[{s}]\n{body}"))
        .collect()
}
