//! INFO sections made of per-item field lines (`item:f1=v1,f2=v2,…`):
//! Keyspace (`db0:keys=…`), Commandstats (`cmdstat_get:calls=…`) and
//! Errorstats (`errorstat_ERR:count=…`). Lines of the same item are merged
//! over the nodes' replies, field by field: integers summed, other values
//! kept from the first reply that has the item, a few fields derived.
//!
//! Items appear in first-seen order (the first reply's order, then items
//! only later replies have); Keyspace is sorted by db number, as Redis
//! prints it. Lines that are not field lines are kept from the first reply.

use std::collections::HashMap;

use slotway_resp::num::string2ll;

/// Which section is merged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `avg_ttl` is averaged, weighted by `expires`.
    Keyspace,
    /// `usec_per_call` is recomputed from the summed `calls` and `usec`.
    Commands,
    /// Plain sums.
    Errors,
}

enum Value<'a> {
    Int(i64),
    Text(&'a [u8]),
    /// Sum of `avg_ttl × expires` and of `expires`.
    Ttl {
        total: i128,
        weight: i128,
    },
    /// `usec / calls`, computed when written.
    PerCall,
}

struct Field<'a> {
    name: &'a [u8],
    value: Value<'a>,
}

enum Line<'a> {
    Item {
        key: &'a [u8],
        fields: Vec<Field<'a>>,
    },
    Raw(&'a [u8]),
}

/// A field's name and value.
type Pair<'a> = (&'a [u8], &'a [u8]);

/// `key:f1=v1,f2=v2,…`, `None` if the line is not of that shape.
fn parse_line(line: &[u8]) -> Option<(&[u8], Vec<Pair<'_>>)> {
    let (key, rest) = super::info::key_value(line)?;
    let fields = rest
        .split(|&b| b == b',')
        .map(|field| {
            let eq = field.iter().position(|&b| b == b'=')?;
            Some((field.get(..eq)?, field.get(eq + 1..)?))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((key, fields))
}

fn initial<'a>(kind: Kind, name: &[u8], value: &'a [u8], weight: i64) -> Value<'a> {
    match (kind, name, string2ll(value)) {
        (Kind::Keyspace, b"avg_ttl", Some(ttl)) => Value::Ttl {
            total: i128::from(ttl) * i128::from(weight),
            weight: i128::from(weight),
        },
        (Kind::Commands, b"usec_per_call", _) => Value::PerCall,
        (_, _, Some(n)) => Value::Int(n),
        (_, _, None) => Value::Text(value),
    }
}

fn add<'a>(kind: Kind, acc: &mut Vec<Field<'a>>, name: &'a [u8], value: &'a [u8], weight: i64) {
    let Some(field) = acc.iter_mut().find(|f| f.name == name) else {
        acc.push(Field {
            name,
            value: initial(kind, name, value, weight),
        });
        return;
    };
    match (&mut field.value, string2ll(value)) {
        (Value::Int(sum), Some(n)) => *sum = sum.saturating_add(n),
        (Value::Ttl { total, weight: w }, Some(ttl)) => {
            *total = total.saturating_add(i128::from(ttl) * i128::from(weight));
            *w = w.saturating_add(i128::from(weight));
        }
        _ => {}
    }
}

/// Merges the section's lines of every reply (`replies[0]` first) into `out`.
pub(super) fn merge(kind: Kind, replies: &[&[&[u8]]], out: &mut Vec<u8>) {
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    for (reply, reply_lines) in replies.iter().enumerate() {
        for &line in *reply_lines {
            let Some((key, fields)) = parse_line(line) else {
                if reply == 0 {
                    lines.push(Line::Raw(line));
                }
                continue;
            };
            let weight = fields
                .iter()
                .find(|(name, _)| kind == Kind::Keyspace && *name == b"expires")
                .and_then(|(_, v)| string2ll(v))
                .unwrap_or(0);
            match index.get(key).and_then(|&i| lines.get_mut(i)) {
                Some(Line::Item { fields: acc, .. }) => {
                    for (name, value) in fields {
                        add(kind, acc, name, value, weight);
                    }
                }
                _ => {
                    index.insert(key, lines.len());
                    let fields = fields
                        .into_iter()
                        .map(|(name, value)| Field {
                            name,
                            value: initial(kind, name, value, weight),
                        })
                        .collect();
                    lines.push(Line::Item { key, fields });
                }
            }
        }
    }
    if kind == Kind::Keyspace {
        lines.sort_by_key(|line| match line {
            Line::Item { key, .. } => db_number(key),
            Line::Raw(_) => u64::MAX,
        });
    }
    for line in &lines {
        match line {
            Line::Raw(raw) => out.extend_from_slice(raw),
            Line::Item { key, fields } => write_item(key, fields, out),
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// `N` of `dbN`; unknown shapes sort last.
fn db_number(key: &[u8]) -> u64 {
    key.strip_prefix(b"db")
        .and_then(string2ll)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(u64::MAX)
}

fn int_field(fields: &[Field<'_>], name: &[u8]) -> i64 {
    fields
        .iter()
        .find_map(|f| match f.value {
            Value::Int(n) if f.name == name => Some(n),
            _ => None,
        })
        .unwrap_or(0)
}

fn write_item(key: &[u8], fields: &[Field<'_>], out: &mut Vec<u8>) {
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(key);
    out.push(b':');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(field.name);
        out.push(b'=');
        match field.value {
            Value::Int(n) => out.extend_from_slice(num.format(n).as_bytes()),
            Value::Text(text) => out.extend_from_slice(text),
            Value::Ttl { total, weight } => {
                let avg = total.checked_div(weight).unwrap_or(0);
                let avg = i64::try_from(avg).unwrap_or(if avg < 0 { i64::MIN } else { i64::MAX });
                out.extend_from_slice(num.format(avg).as_bytes());
            }
            Value::PerCall => {
                let calls = int_field(fields, b"calls");
                let usec = int_field(fields, b"usec");
                out.extend_from_slice(per_call(usec, calls).as_bytes());
            }
        }
    }
}

/// Redis 7.0's `usec_per_call`: `%.2f` of `(float)usec / calls` (single
/// precision, as `genRedisInfoString` computes it), 0 without calls.
pub(super) fn per_call(usec: i64, calls: i64) -> String {
    let value = if calls == 0 {
        0.0
    } else {
        usec as f32 / calls as f32
    };
    format!("{:.2}", f64::from(value))
}
