//! mpic-core: everything in the MPIC system that is logic rather than I/O.
//!
//! The same code runs in the Cloudflare Worker perspective (wasm32), in the
//! coordinator (native) and in tests. I/O reaches it only through the
//! [`network::Network`] trait, so every rule here is testable without a network.
#![forbid(unsafe_code)]

pub mod check;
pub mod dcv;
pub mod name;
pub mod network;
pub mod redirect;
