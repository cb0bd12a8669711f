//! The per-request ACL check of a session: resolves the request's command
//! and asks the client's user (see [`crate::acl`]) whether it may run it.
//!
//! Invariant: runs after the command-table checks (unknown command, arity:
//! those pass here and are answered by the router) and before the proxy's
//! own refusals and routing, as Redis checks ACLs right after the command
//! table; an unrestricted user costs one branch.

use slotway_command::Resolved;
use slotway_resp::Request;

use crate::acl::User;
use crate::route::ReqArgs;

/// `Ok` if `user` may run `req`; else Redis's NOPERM error text.
pub(super) fn check(user: &User, req: &Request) -> Result<(), Vec<u8>> {
    if user.unrestricted() {
        return Ok(());
    }
    let args = ReqArgs(req);
    match slotway_command::resolve(&args) {
        // A wrong arity is answered before permissions, as in Redis.
        Resolved::Command(spec) if !spec.arity_ok(req.argc()) => Ok(()),
        Resolved::Command(spec) => user.check(spec, &args).map_err(|d| d.message(spec)),
        // The command-table check answers these first.
        Resolved::UnknownCommand | Resolved::UnknownSubcommand(_) => Ok(()),
    }
}
