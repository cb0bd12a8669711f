//! Byte-exact tests of every encoder in both protocols.

use bytes::Bytes;

use super::*;

fn enc(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
    let mut out = BytesMut::new();
    f(&mut out);
    out.to_vec()
}

use Protocol::{Resp2, Resp3};

#[test]
fn scalars() {
    assert_eq!(enc(|o| simple(o, b"OK")), b"+OK\r\n");
    assert_eq!(enc(|o| simple(o, b"a\r\nb\nc\r")), b"+a  b c \r\n");
    assert_eq!(
        enc(|o| error(o, b"ERR unknown command 'x'")),
        b"-ERR unknown command 'x'\r\n"
    );
    assert_eq!(
        enc(|o| error(o, b"ERR bad\r\ninjected")),
        b"-ERR bad  injected\r\n"
    );
    assert_eq!(enc(|o| integer(o, 0)), b":0\r\n");
    assert_eq!(enc(|o| integer(o, i64::MIN)), b":-9223372036854775808\r\n");
    assert_eq!(enc(|o| bulk(o, b"")), b"$0\r\n\r\n");
    assert_eq!(enc(|o| bulk(o, b"a\r\nb")), b"$4\r\na\r\nb\r\n");
}

#[test]
fn nulls_and_headers() {
    assert_eq!(enc(|o| null(o, Resp2)), b"$-1\r\n");
    assert_eq!(enc(|o| null(o, Resp3)), b"_\r\n");
    assert_eq!(enc(|o| null_array(o, Resp2)), b"*-1\r\n");
    assert_eq!(enc(|o| null_array(o, Resp3)), b"_\r\n");
    assert_eq!(enc(|o| array_header(o, 0)), b"*0\r\n");
    assert_eq!(enc(|o| array_header(o, 12)), b"*12\r\n");
    assert_eq!(enc(|o| map_header(o, 3, Resp2)), b"*6\r\n");
    assert_eq!(enc(|o| map_header(o, 3, Resp3)), b"%3\r\n");
    assert_eq!(enc(|o| set_header(o, 2, Resp2)), b"*2\r\n");
    assert_eq!(enc(|o| set_header(o, 2, Resp3)), b"~2\r\n");
}

#[test]
fn resp3_types_and_fallbacks() {
    assert_eq!(enc(|o| boolean(o, true, Resp2)), b":1\r\n");
    assert_eq!(enc(|o| boolean(o, false, Resp2)), b":0\r\n");
    assert_eq!(enc(|o| boolean(o, true, Resp3)), b"#t\r\n");
    assert_eq!(enc(|o| boolean(o, false, Resp3)), b"#f\r\n");
    assert_eq!(enc(|o| double(o, 1.5, Resp2)), b"$3\r\n1.5\r\n");
    assert_eq!(enc(|o| double(o, 0.1, Resp3)), b",0.10000000000000001\r\n");
    assert_eq!(enc(|o| double(o, f64::INFINITY, Resp3)), b",inf\r\n");
    assert_eq!(
        enc(|o| double(o, f64::NEG_INFINITY, Resp2)),
        b"$4\r\n-inf\r\n"
    );
    assert_eq!(
        enc(|o| verbatim(o, b"# Server\r\n", Resp2)),
        b"$10\r\n# Server\r\n\r\n"
    );
    assert_eq!(
        enc(|o| verbatim(o, b"# Server\r\n", Resp3)),
        b"=14\r\ntxt:# Server\r\n\r\n"
    );
}

#[test]
fn commands() {
    assert_eq!(
        enc(|o| command(o, &["CLUSTER", "SHARDS"])),
        b"*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n"
    );
    assert_eq!(enc(|o| command(o, &[b"".to_vec()])), b"*1\r\n$0\r\n\r\n");
    assert_eq!(enc(|o| command::<&[u8]>(o, &[])), b"*0\r\n");
}

fn sample() -> Value {
    use Value::*;
    let b = |s: &'static str| Bytes::from_static(s.as_bytes());
    Array(vec![
        Simple(b("OK")),
        Error(b("ERR x")),
        Integer(-1),
        Bulk(b("bin\r\n")),
        Null,
        Map(vec![(Bulk(b("k")), Set(vec![Boolean(true)]))]),
        Push(vec![
            Double(b("1.5")),
            BigNumber(b("123")),
            Verbatim(b("txt:hi")),
        ]),
    ])
}

#[test]
fn value_in_its_own_types() {
    let want: &[u8] = b"*7\r\n+OK\r\n-ERR x\r\n:-1\r\n$5\r\nbin\r\n\r\n_\r\n%1\r\n$1\r\nk\r\n~1\r\n#t\r\n>3\r\n,1.5\r\n(123\r\n=6\r\ntxt:hi\r\n";
    assert_eq!(enc(|o| value(o, &sample())), want);
    assert_eq!(enc(|o| value_as(o, &sample(), Resp3)), want);
}

#[test]
fn value_downgraded_to_resp2() {
    let want: &[u8] = b"*7\r\n+OK\r\n-ERR x\r\n:-1\r\n$5\r\nbin\r\n\r\n$-1\r\n*2\r\n$1\r\nk\r\n*1\r\n:1\r\n*3\r\n$3\r\n1.5\r\n$3\r\n123\r\n$2\r\nhi\r\n";
    assert_eq!(enc(|o| value_as(o, &sample(), Resp2)), want);
}

#[test]
fn deep_values_encode_without_recursion() {
    let mut v = Value::Integer(1);
    for _ in 0..100_000 {
        v = Value::Array(vec![v]);
    }
    let out = enc(|o| value(o, &v));
    assert_eq!(out.len(), 100_000 * 4 + 4);
    // Drop iteratively too, so the test itself does not overflow the stack.
    let mut v = v;
    while let Value::Array(mut items) = v {
        v = items.pop().unwrap_or(Value::Null);
    }
}
