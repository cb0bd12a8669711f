//! Configuration parsing and validation.

use super::*;

#[test]
fn defaults_validate_with_a_seed() {
    let s = Settings::for_seeds(&["127.0.0.1:7001"]).unwrap();
    assert_eq!(s.connections_per_node, 2);
    assert_eq!(s.limits.max_bulk_len, 512 * 1024 * 1024);
    assert_eq!(s.limits.max_multibulk_len, 1024 * 1024);
    assert_eq!(s.limits.max_inline_len, 64 * 1024);
    assert!(s.threads >= 1);
}

#[test]
fn unknown_keys_are_rejected() {
    let err = Config::from_toml("[proxy]\nlisten = \"127.0.0.1:1\"\nbogus = 1\n").unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");
}

#[test]
fn full_file_parses() {
    let c = Config::from_toml(
        r#"
        [proxy]
        listen = "0.0.0.0:7777"
        threads = 3
        [cluster]
        seeds = ["10.0.0.1:7001", "redis-a:7002"]
        connections_per_node = 4
        [limits]
        max_bulk_len = 1024
        [log]
        level = "debug"
        "#,
    )
    .unwrap();
    let s = c.validate().unwrap();
    assert_eq!(s.threads, 3);
    assert_eq!(s.seeds, vec!["10.0.0.1:7001", "redis-a:7002"]);
    assert_eq!(s.limits.max_bulk_len, 1024);
}

#[test]
fn bad_values_say_which_key() {
    let mut c = Config::default();
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("cluster.seeds")
    );
    c.cluster.seeds = vec!["nohost".into()];
    assert!(c.validate().unwrap_err().to_string().contains("nohost"));
    c.cluster.seeds = vec!["h:1".into()];
    c.cluster.connections_per_node = 0;
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("connections_per_node")
    );
}

#[test]
fn tls_keys_are_checked_and_name_their_files() {
    let base = "[cluster]\nseeds = [\"127.0.0.1:7001\"]\n";
    let err = |extra: &str| {
        Config::from_toml(&format!("{base}{extra}"))
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string()
    };
    assert!(err("tls_ca_file = \"/x/ca.pem\"\n").contains("cluster.tls"));
    assert!(err("tls = true\n").contains("cluster.tls_ca_file"));
    let missing = err("tls = true\ntls_ca_file = \"/missing/ca.pem\"\n");
    assert!(missing.contains("/missing/ca.pem"), "{missing}");
    assert!(err("[tls]\nlisten = \"127.0.0.1:7443\"\n").contains("tls.cert_file"));
    let missing = err(
        "[tls]\nlisten = \"127.0.0.1:7443\"\ncert_file = \"/missing/c.pem\"\nkey_file = \"/missing/k.pem\"\n",
    );
    assert!(missing.contains("/missing/c.pem"), "{missing}");
    let auth = Config::from_toml("[tls]\nclient_auth = \"sometimes\"\n").unwrap_err();
    assert!(auth.to_string().contains("sometimes"), "{auth}");
    // Off by default: no listener, no backend TLS.
    let s = Settings::for_seeds(&["127.0.0.1:7001"]).unwrap();
    assert!(s.tls.is_none() && s.prelude.tls().is_none());
}

#[test]
fn auth_passthrough_needs_no_users_of_the_proxy() {
    let on = "[proxy]\nauth_passthrough = true\n[cluster]\nseeds = [\"127.0.0.1:7001\"]\n";
    let s = Config::from_toml(on).unwrap().validate().unwrap();
    assert!(s.auth_passthrough);
    let with_pass = on.replace("[cluster]", "requirepass = \"x\"\n[cluster]");
    let err = Config::from_toml(&with_pass)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("auth_passthrough"), "{err}");
    let with_users = format!("{on}[[users]]\nname = \"app\"\nnopass = true\n");
    let err = Config::from_toml(&with_users)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("auth_passthrough"), "{err}");
}
