//! Slotway's RESP wire protocol: pure functions and state machines over byte
//! buffers, with no I/O and no async runtime.
//!
//! What this crate owns:
//! - [`RequestParser`]: incremental parsing of client requests (RESP2
//!   multibulk and inline), with Redis 7.0's exact acceptance rules and error
//!   texts, zero-copy for multibulk input.
//! - [`ReplyScanner`]: finding where each backend reply frame (RESP2/RESP3)
//!   ends, without decoding it, so replies can be forwarded as raw bytes.
//! - [`Value`]: an owned decoded reply for the control plane and tests.
//! - [`encode`]: encoders for the replies and commands the proxy builds itself.
//!
//! Invariants shared by every module: no `unsafe`, no panicking operations
//! outside tests, no recursion over untrusted nesting (deep input is handled
//! with explicit stacks and a depth cap), and no per-request allocation on
//! the request-parsing and reply-scanning paths for ordinary traffic.

pub mod encode;
mod error;
pub mod num;
pub mod reply;
pub mod request;
pub mod value;

pub use encode::Protocol;
pub use error::{ProtocolError, ReplyError};
pub use reply::{FrameInfo, ReplyScanner};
pub use request::{Limits, Request, RequestParser};
pub use value::Value;
