//! [`Reject`]: why a request is refused before reaching Redis, and the
//! error text the client gets — Redis's own wording wherever Redis has the
//! same error.

use slotway_command::CommandSpec;
use slotway_resp::Request;

/// Why a request is refused before reaching Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// No such command.
    UnknownCommand,
    /// No such subcommand of a container command.
    UnknownSubcommand,
    /// Wrong number of arguments.
    Arity(&'static CommandSpec),
    /// Wrong number of arguments of a command the table does not have.
    ArityOf(&'static str),
    /// Keys in different slots.
    CrossSlot,
    /// Needs a dedicated backend connection (not available yet).
    NeedsDedicated(&'static str),
    /// Refused in front of a cluster (administration of the nodes).
    Refused(&'static str),
    /// Not available through the proxy.
    Unsupported(&'static str),
    /// Redis Cluster's own error for this command, word for word.
    Redis(&'static str),
    /// Denied by the operator (`[commands] deny`).
    Denied(&'static CommandSpec),
}

impl Reject {
    /// The error reply text (without `-` and CRLF), worded as Redis words it
    /// where Redis has the same error.
    #[must_use]
    pub fn message(&self, req: &Request) -> Vec<u8> {
        let name = req.arg(0).unwrap_or_default();
        let mut m = Vec::with_capacity(96);
        match self {
            Self::UnknownCommand => {
                m.extend_from_slice(b"ERR unknown command '");
                m.extend_from_slice(c_string(name, 128));
                m.extend_from_slice(b"', with args beginning with: ");
                // Like Redis: quoted args while the list is under 128 bytes.
                let mut listed = 0usize;
                for arg in req.args().skip(1) {
                    if listed >= 128 {
                        break;
                    }
                    let arg = c_string(arg, 128 - listed);
                    m.push(b'\'');
                    m.extend_from_slice(arg);
                    m.extend_from_slice(b"' ");
                    listed += arg.len() + 3;
                }
            }
            Self::UnknownSubcommand => {
                m.extend_from_slice(b"ERR unknown subcommand '");
                m.extend_from_slice(c_string(req.arg(1).unwrap_or_default(), 128));
                m.extend_from_slice(b"'. Try ");
                m.extend(
                    c_string(name, usize::MAX)
                        .iter()
                        .map(u8::to_ascii_uppercase),
                );
                m.extend_from_slice(b" HELP.");
            }
            Self::Arity(spec) => arity(&mut m, spec.name),
            Self::ArityOf(name) => arity(&mut m, name),
            Self::CrossSlot => {
                m.extend_from_slice(b"CROSSSLOT Keys in request don't hash to the same slot");
            }
            Self::NeedsDedicated(what) => {
                m.extend_from_slice(b"ERR slotway: ");
                m.extend_from_slice(what.as_bytes());
                m.extend_from_slice(
                    b" need a dedicated backend connection, which this version of the proxy does not provide yet",
                );
            }
            Self::Redis(msg) => m.extend_from_slice(msg.as_bytes()),
            Self::Denied(spec) => {
                m.extend_from_slice(b"ERR slotway: command '");
                m.extend_from_slice(spec.name.as_bytes());
                m.extend_from_slice(b"' is disabled by the proxy configuration");
            }
            Self::Unsupported(what) => {
                m.extend_from_slice(b"ERR slotway: ");
                m.extend_from_slice(what.as_bytes());
                m.extend_from_slice(b" is not supported through the proxy");
            }
            Self::Refused(what) => {
                m.extend_from_slice(b"ERR slotway: '");
                m.extend(c_string(name, 64).iter().map(u8::to_ascii_lowercase));
                // Name the subcommand too: CONFIG SET is refused, CONFIG GET is not.
                if slotway_command::lookup(name).is_some_and(CommandSpec::is_container)
                    && let Some(sub) = req.arg(1)
                {
                    m.push(b' ');
                    m.extend(c_string(sub, 64).iter().map(u8::to_ascii_lowercase));
                }
                m.extend_from_slice(b"' is not allowed through the proxy (");
                m.extend_from_slice(what.as_bytes());
                m.push(b')');
            }
        }
        m
    }
}

fn arity(m: &mut Vec<u8>, fullname: &str) {
    m.extend_from_slice(b"ERR wrong number of arguments for '");
    m.extend_from_slice(fullname.as_bytes());
    m.extend_from_slice(b"' command");
}

/// What Redis prints of an argument with `%.Ns`: up to the first NUL, at most `max` bytes.
fn c_string(arg: &[u8], max: usize) -> &[u8] {
    let end = arg
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(arg.len())
        .min(max);
    arg.get(..end).unwrap_or_default()
}
