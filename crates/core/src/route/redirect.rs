//! Redirects and retry requests in error replies from nodes: `-MOVED`,
//! `-ASK`, `-TRYAGAIN`, `-CLUSTERDOWN`, and the replies of a node that did
//! not run the command because of its role or state (`-READONLY`,
//! `-LOADING`, `-MASTERDOWN`). Pure.

/// A redirect or retry request parsed from an error reply frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirect<'a> {
    /// `-MOVED slot addr`: the slot lives elsewhere for good.
    Moved {
        /// Slot.
        slot: u16,
        /// New owner, `host:port` (host may be empty: same host).
        addr: &'a str,
    },
    /// `-ASK slot addr`: this one request goes to `addr` after `ASKING`.
    Ask {
        /// Slot.
        slot: u16,
        /// Importing node.
        addr: &'a str,
    },
    /// `-TRYAGAIN` (multi-key request during a slot migration) or
    /// `-CLUSTERDOWN`: nothing was executed, retry after a short delay.
    Retry,
}

/// Parses a reply frame (`-MOVED 3999 127.0.0.1:6381\r\n`, …).
#[must_use]
pub fn redirect(frame: &[u8]) -> Option<Redirect<'_>> {
    let body = frame.strip_prefix(b"-")?;
    let end = body.iter().position(|&b| b == b'\r').unwrap_or(body.len());
    let line = std::str::from_utf8(body.get(..end)?).ok()?;
    let mut parts = line.split(' ');
    let kind = parts.next()?;
    match kind {
        "MOVED" | "ASK" => {
            let slot: u16 = parts.next()?.parse().ok()?;
            let addr = parts.next()?;
            if slot >= slotway_hashkit::SLOT_COUNT {
                return None;
            }
            Some(if kind == "MOVED" {
                Redirect::Moved { slot, addr }
            } else {
                Redirect::Ask { slot, addr }
            })
        }
        // READONLY: a master demoted by a failover (a Sentinel-managed pool
        // server) refused a write; LOADING / MASTERDOWN: a node not serving
        // yet. None of them ran the command.
        "TRYAGAIN" | "CLUSTERDOWN" | "READONLY" | "LOADING" | "MASTERDOWN" => Some(Redirect::Retry),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_parse() {
        assert_eq!(
            redirect(b"-MOVED 3999 127.0.0.1:6381\r\n"),
            Some(Redirect::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381"
            })
        );
        assert_eq!(
            redirect(b"-ASK 1 h:1\r\n"),
            Some(Redirect::Ask {
                slot: 1,
                addr: "h:1"
            })
        );
        assert_eq!(
            redirect(b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"),
            Some(Redirect::Retry)
        );
        assert_eq!(
            redirect(b"-CLUSTERDOWN The cluster is down\r\n"),
            Some(Redirect::Retry)
        );
        assert_eq!(
            redirect(b"-READONLY You can't write against a read only replica.\r\n"),
            Some(Redirect::Retry)
        );
        assert_eq!(
            redirect(b"-LOADING Redis is loading\r\n"),
            Some(Redirect::Retry)
        );
        assert_eq!(redirect(b"-ERR wrong\r\n"), None);
        assert_eq!(redirect(b"-MOVED 99999 h:1\r\n"), None);
        assert_eq!(redirect(b"+OK\r\n"), None);
    }
}
