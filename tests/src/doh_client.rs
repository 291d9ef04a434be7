//! A `mpic_core::doh::DohTransport` over reqwest, for native tests and the demo: what the
//! coordinator-side and test code use to talk to a DoH resolver (the
//! loopback fixture or a real one).

use mpic_core::doh::{DohClient, DohConfig, DohConfigError, DohMethod};

/// The coordinator's production transport: the fixtures talk DoH exactly
/// as the coordinator does.
pub use mpic_coordinator::testing::ReqwestDohTransport;

/// Why a [`DohClient`] for the fixture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DohClientError {
    #[error("invalid DoH URL: {0}")]
    Url(#[from] url::ParseError),
    #[error("DoH URL refused: {0}")]
    Config(#[from] DohConfigError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("resolvers: {0}")]
    Resolvers(String),
}

/// A client for a loopback DoH URL (plain http allowed) using `method`.
pub fn loopback_doh_client(
    url: &str,
    method: DohMethod,
) -> Result<DohClient<ReqwestDohTransport>, DohClientError> {
    loopback_doh_client_with_timeout(url, method, mpic_core::doh::DEFAULT_DOH_TIMEOUT_MS)
}

/// [`loopback_doh_client`] giving up on each exchange after `timeout_ms`.
pub fn loopback_doh_client_with_timeout(
    url: &str,
    method: DohMethod,
    timeout_ms: u64,
) -> Result<DohClient<ReqwestDohTransport>, DohClientError> {
    let mut config = DohConfig::new(url::Url::parse(url)?);
    config.method = method;
    config.allow_insecure_http = true;
    config.timeout_ms = timeout_ms;
    Ok(DohClient::new(ReqwestDohTransport::new()?, config)?)
}
