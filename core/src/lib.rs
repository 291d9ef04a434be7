//! mpic-core: everything in the MPIC system that is logic rather than I/O.
//!
//! The same code runs in the Cloudflare Worker perspective (wasm32), in the
//! coordinator (native) and in tests. I/O reaches it only through the
//! [`network::Network`] trait, so every rule here is testable without a network.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address_policy;
mod base64_text;
pub mod caa;
mod canonical_bytes;
pub mod check;
pub mod dcv;
pub mod dns;
pub mod dnssec_self_test;
pub mod doh;
pub mod extended_dns_error;
pub mod http1;
pub mod identity_document;
pub mod keys;
pub mod location;
pub mod loopback;
pub mod name;
pub mod network;
pub mod nonce;
pub mod perspective;
pub mod quorum;
pub mod redirect;
pub mod report;
pub mod request_auth;
pub mod resolver_set;
pub mod responder;
pub mod rir;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;
pub mod web;
