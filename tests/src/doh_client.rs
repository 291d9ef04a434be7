//! A [`DohTransport`] over reqwest, for native tests and the demo: what the
//! coordinator-side and test code use to talk to a DoH resolver (the
//! loopback fixture or a real one).

use std::future::Future;
use std::time::Duration;

use mpic_core::doh::{
    DohClient, DohConfig, DohConfigError, DohHttpRequest, DohHttpResponse, DohMethod, DohTransport,
};
use mpic_core::network::{DnsError, MaybeSend};
use reqwest::header::CONTENT_TYPE;

/// Sends DoH requests with reqwest: no redirects followed, no proxy, the
/// request's deadline enforced, at most `max_response_bytes + 1` body bytes
/// read.
#[derive(Debug, Clone)]
pub struct ReqwestDohTransport {
    client: reqwest::Client,
}

impl ReqwestDohTransport {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(Self { client })
    }
}

impl DohTransport for ReqwestDohTransport {
    fn send(
        &self,
        request: DohHttpRequest,
    ) -> impl Future<Output = Result<DohHttpResponse, DnsError>> + MaybeSend {
        let client = self.client.clone();
        async move {
            let deadline = Duration::from_millis(request.timeout_ms);
            match tokio::time::timeout(deadline, exchange(&client, request)).await {
                Ok(result) => result,
                Err(_) => Err(DnsError::Timeout),
            }
        }
    }
}

async fn exchange(
    client: &reqwest::Client,
    request: DohHttpRequest,
) -> Result<DohHttpResponse, DnsError> {
    let transport = |e: reqwest::Error| DnsError::Transport(e.to_string());
    let mut builder = match request.method {
        DohMethod::Get => client.get(request.url),
        DohMethod::Post => client.post(request.url).body(request.body),
    };
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    let mut response = builder.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        body.extend_from_slice(&chunk);
        if body.len() > request.max_response_bytes {
            // One byte over is enough for the client to refuse it.
            body.truncate(request.max_response_bytes + 1);
            break;
        }
    }
    Ok(DohHttpResponse {
        status,
        content_type,
        body,
    })
}

/// Why a [`DohClient`] for the fixture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DohClientError {
    #[error("invalid DoH URL: {0}")]
    Url(#[from] url::ParseError),
    #[error("DoH URL refused: {0}")]
    Config(#[from] DohConfigError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A client for a loopback DoH URL (plain http allowed) using `method`.
pub fn loopback_doh_client(
    url: &str,
    method: DohMethod,
) -> Result<DohClient<ReqwestDohTransport>, DohClientError> {
    let mut config = DohConfig::new(url::Url::parse(url)?);
    config.method = method;
    config.allow_insecure_http = true;
    Ok(DohClient::new(ReqwestDohTransport::new()?, config)?)
}
