//! Backend side of the data path: shared, pipelined connections to Redis nodes.
//!
//! - [`sink`]: how replies travel back to the session that asked (seq-tagged).
//! - [`conn`]: one connection task: coalesced writes, FIFO reply matching.
//! - [`node`]: the set of shared connections of one node address.
//! - [`dedicated`]: connections lent to one client (blocking, WATCH, pub/sub).
//! - [`prelude`]: what every new connection sends first (AUTH, SELECT).
//! - [`write_ack`]: the WAIT group commit's pure parts (`cluster.write_ack`).
//!
//! Backend connections are dumb transports: they never interpret a reply.
//! Redirects, retries and ordering are the session's business, because only
//! the session holds the request and knows its client's order.

pub mod conn;
pub mod dedicated;
mod dial;
pub mod node;
pub mod prelude;
pub mod sink;
pub mod write_ack;

pub use conn::{BackendRequest, ConnHandle};
pub use dedicated::{Lease, LeasePool, StreamConn};
pub use node::Node;
pub use prelude::{Credentials, Prelude};
pub use sink::{Failure, FailureKind, Reply, ReplySink, ring};
