//! Loopback fixtures for the end-to-end tests: real processes and servers on
//! 127.0.0.1 only, each stopped when its handle is dropped.
#![forbid(unsafe_code)]

pub mod bare_workerd;
pub mod coordinator_process;
pub mod decisions;
pub mod dns_fixture;
pub mod doh_client;
pub mod evidence_audit;
pub mod hostile_perspective;
pub mod hostile_tcp;
pub mod http_fixture;
pub mod keys;
pub mod loopback_network;
pub mod loopback_server;
pub mod memory_watch;
pub mod mpic_binary;
pub mod native_perspective;
pub mod perspective_client;
pub mod postgres_server;
pub mod tcp_sink;
pub mod tls_fixture;
pub mod victim;
pub mod workerd;
pub mod world;

use std::path::PathBuf;

/// The repository root (the workspace that holds `wrangler.toml`).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A free TCP port on 127.0.0.1, for a server that binds it right after.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
