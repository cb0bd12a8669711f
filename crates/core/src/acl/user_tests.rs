#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

fn check(u: &User, args: &[&str]) -> Result<(), Denied> {
    let spec = match slotway_command::resolve(args) {
        slotway_command::Resolved::Command(s) => s,
        _ => panic!("unknown command {args:?}"),
    };
    u.check(spec, args)
}

fn reader() -> User {
    let mut u = User::new("ro", true);
    u.add_password("pw").unwrap();
    u.apply_command_rules("+@read -@dangerous").unwrap();
    u.apply_key_rule("~app:*").unwrap();
    u.apply_channel_rule("&news*").unwrap();
    u
}

#[test]
fn passwords_plain_and_hashed() {
    let u = reader();
    assert!(u.accepts(b"pw"));
    assert!(!u.accepts(b"pw2"));
    assert!(!u.accepts(b""));
    let mut h = User::new("h", true);
    // SHA-256 of "password".
    h.add_password("#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8")
        .unwrap();
    assert!(h.accepts(b"password"));
    assert!(!h.accepts(b"#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"));
    assert_eq!(h.add_password("#abc"), Err(UserError::Hash));
    let off = User::new("off", false);
    assert!(!off.accepts(b""));
    let none = User::new("none", true);
    assert!(
        !none.accepts(b""),
        "no password and not nopass: nobody gets in"
    );
    assert!(!format!("{u:?}").contains("pw\""));
}

#[test]
fn commands_then_keys_then_channels() {
    let u = reader();
    assert_eq!(check(&u, &["GET", "app:1"]), Ok(()));
    assert_eq!(check(&u, &["SET", "app:1", "x"]), Err(Denied::Command));
    assert_eq!(check(&u, &["SET", "other", "x"]), Err(Denied::Command));
    assert_eq!(check(&u, &["GET", "other"]), Err(Denied::Key));
    assert_eq!(check(&u, &["MGET", "app:1", "other"]), Err(Denied::Key));
    assert_eq!(check(&u, &["MGET", "app:1", "app:2"]), Ok(()));
    assert_eq!(check(&u, &["AUTH", "x"]), Ok(()));
    assert_eq!(check(&u, &["PUBLISH", "news1", "x"]), Err(Denied::Command));
    let mut p = User::new("p", true);
    p.apply_command_rules("+@all").unwrap();
    p.apply_key_rule("~app:*").unwrap();
    p.apply_channel_rule("&news*").unwrap();
    assert_eq!(check(&p, &["PUBLISH", "news1", "x"]), Ok(()));
    assert_eq!(check(&p, &["PUBLISH", "foo", "x"]), Err(Denied::Channel));
    assert_eq!(
        check(&p, &["SUBSCRIBE", "news", "foo"]),
        Err(Denied::Channel)
    );
    assert_eq!(check(&p, &["PSUBSCRIBE", "news*"]), Ok(()));
    assert_eq!(check(&p, &["PSUBSCRIBE", "new*"]), Err(Denied::Channel));
    assert_eq!(check(&p, &["UNSUBSCRIBE", "foo"]), Ok(()));
    assert_eq!(check(&p, &["SPUBLISH", "foo", "x"]), Err(Denied::Channel));
    assert!(!p.unrestricted());
    assert!(User::default().unrestricted());
}

#[test]
fn key_rules() {
    let mut u = User::new("k", true);
    u.apply_command_rules("+@all").unwrap();
    assert_eq!(check(&u, &["GET", "a"]), Err(Denied::Key));
    assert_eq!(check(&u, &["PING"]), Ok(()));
    u.apply_key_rule("allkeys").unwrap();
    assert_eq!(check(&u, &["GET", "a"]), Ok(()));
    u.apply_key_rule("resetkeys").unwrap();
    u.apply_key_rule("~a").unwrap();
    assert_eq!(check(&u, &["GET", "a"]), Ok(()));
    assert_eq!(check(&u, &["RENAME", "a", "b"]), Err(Denied::Key));
    assert!(u.apply_key_rule("x").is_err());
    for bad in ["%X~a", "%~a", "%RR~a", "%R", "%Ra"] {
        assert!(u.apply_key_rule(bad).is_err(), "{bad}");
    }
    assert!(u.apply_channel_rule("~x").is_err());
}

#[test]
fn messages_are_redis_70s() {
    let spec = slotway_command::lookup(b"config")
        .unwrap()
        .subcommand(b"set")
        .unwrap();
    assert_eq!(
        Denied::Command.message(spec),
        b"NOPERM this user has no permissions to run the 'config|set' command"
    );
}

#[test]
fn read_and_write_key_permissions_as_redis_7() {
    let mut u = User::new("rw", true);
    u.apply_command_rules("+@all").unwrap();
    u.apply_key_rule("%R~src:*").unwrap();
    u.apply_key_rule("%W~dst:*").unwrap();
    u.apply_key_rule("%rw~both:*").unwrap();
    // ACCESS needs read; UPDATE / INSERT / DELETE need write.
    assert_eq!(check(&u, &["GET", "src:1"]), Ok(()));
    assert_eq!(check(&u, &["SET", "src:1", "v"]), Err(Denied::Key));
    assert_eq!(check(&u, &["SET", "dst:1", "v"]), Ok(()));
    assert_eq!(check(&u, &["GET", "dst:1"]), Err(Denied::Key));
    // SET … GET also reads (Redis's setGetKeys); BITFIELD GET only reads.
    assert_eq!(check(&u, &["SET", "dst:1", "v", "GET"]), Err(Denied::Key));
    assert_eq!(check(&u, &["SET", "both:1", "v", "get"]), Ok(()));
    assert_eq!(check(&u, &["BITFIELD", "src:1", "GET", "u8", "0"]), Ok(()));
    assert_eq!(
        check(&u, &["BITFIELD", "src:1", "SET", "u8", "0", "1"]),
        Err(Denied::Key)
    );
    assert_eq!(check(&u, &["COPY", "src:1", "dst:1"]), Ok(()));
    assert_eq!(check(&u, &["COPY", "dst:1", "src:1"]), Err(Denied::Key));
    // LMOVE's source is read and written (RW ACCESS DELETE).
    assert_eq!(
        check(&u, &["LMOVE", "src:1", "dst:1", "LEFT", "LEFT"]),
        Err(Denied::Key)
    );
    assert_eq!(
        check(&u, &["LMOVE", "both:1", "dst:1", "LEFT", "LEFT"]),
        Ok(())
    );
    // EXISTS neither reads nor writes a value (RO without ACCESS): any
    // matching pattern will do, as in Redis.
    assert_eq!(check(&u, &["EXISTS", "dst:1"]), Ok(()));
    assert_eq!(check(&u, &["EXISTS", "other"]), Err(Denied::Key));
    // Every key of a multi-key command.
    assert_eq!(check(&u, &["MSET", "dst:1", "a", "both:2", "b"]), Ok(()));
    assert_eq!(
        check(&u, &["MSET", "dst:1", "a", "src:2", "b"]),
        Err(Denied::Key)
    );
    assert!(!u.unrestricted());
    // %R~* reads every key but writes none; %RW~* is allkeys.
    let mut r = User::new("r", true);
    r.apply_command_rules("+@all").unwrap();
    r.apply_key_rule("%R~*").unwrap();
    assert_eq!(check(&r, &["GET", "x"]), Ok(()));
    assert_eq!(check(&r, &["SET", "x", "v"]), Err(Denied::Key));
    r.apply_key_rule("%RW~*").unwrap();
    assert_eq!(check(&r, &["SET", "x", "v"]), Ok(()));
    r.apply_channel_rule("allchannels").unwrap();
    assert!(r.unrestricted());
}
