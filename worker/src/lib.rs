//! mpic-worker: one remote network perspective, run by Cloudflare Workers.
//!
//! `POST /v1/check` runs a coordinator-signed check and answers with a signed
//! report; `GET /v1/identity` says who this perspective is. The checks
//! themselves are mpic-core's; this crate is the Workers shell around them:
//! settings ([`settings`]), the edge network ([`edge_network`]: DoH with
//! `fetch()`, challenge connections with Workers sockets), and
//! the refusal of anything not signed by an allowed coordinator, so that the
//! perspective can never be used as an open DNS or HTTP proxy.
#![forbid(unsafe_code)]

// The Workers runtime is wasm32 only; natively (clippy, unit tests) the crate
// is its pure rules: settings and how fetch failures are reported.
#[cfg(target_arch = "wasm32")]
mod edge_network;
pub mod fetch_failure;
#[cfg(target_arch = "wasm32")]
mod handler;
pub mod settings;
