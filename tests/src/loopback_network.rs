//! A native [`Network`] for running mpic-core's checks against the loopback
//! fixtures, one per perspective: DNS through the perspective's DoH view,
//! and HTTP to whatever address that same view gives for the host. So a
//! view that hijacks a name also hijacks the HTTP fetches to it, as a BGP
//! or DNS hijack would for a real perspective.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use mpic_core::dnssec_self_test::DnssecSelfTest;
use mpic_core::doh::DohMethod;
use mpic_core::network::{
    DnsAnswer, DnsError, HttpError, HttpLimits, HttpResponse, MaybeSend, Network, RequestHeaders,
};
use mpic_core::resolver_set::ResolverSet;
use reqwest::header::{CONTENT_TYPE, LOCATION};

use mpic_coordinator::testing::{header_text, http_error, read_bounded};

use crate::doh_client::{DohClientError, ReqwestDohTransport, loopback_doh_client};

type Doh = Arc<ResolverSet<ReqwestDohTransport>>;

/// What one perspective sees: its DoH view for names, plain HTTP (no
/// redirects followed, no proxy) for fetches.
#[derive(Debug, Clone)]
pub struct LoopbackNetwork {
    doh: Doh,
    http: reqwest::Client,
}

impl LoopbackNetwork {
    /// Resolves through the DoH URL `doh_url` (a fixture view's URL) with
    /// POST.
    pub fn new(doh_url: &str) -> Result<Self, DohClientError> {
        Self::with_method(doh_url, DohMethod::Post)
    }

    /// Like [`LoopbackNetwork::new`] with the DoH method chosen, and the
    /// fixture's DNSSEC self-test names
    /// ([`crate::dns_fixture::dnssec_test_names`]).
    pub fn with_method(doh_url: &str, method: DohMethod) -> Result<Self, DohClientError> {
        let client = loopback_doh_client(doh_url, method)?;
        let doh = Arc::new(
            ResolverSet::new(vec![client], crate::dns_fixture::dnssec_test_names())
                .map_err(|e| DohClientError::Resolvers(e.to_string()))?,
        );
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(DohAddresses(Arc::clone(&doh))))
            .build()?;
        Ok(Self { doh, http })
    }
}

impl Network for LoopbackNetwork {
    fn dns(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        let doh = Arc::clone(&self.doh);
        let name = name.to_owned();
        async move { doh.resolve(&name, rtype).await }
    }

    fn dns_retry(
        &self,
        name: &str,
        rtype: RecordType,
        failed: &DnsAnswer,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        let doh = Arc::clone(&self.doh);
        let (name, failed) = (name.to_owned(), failed.clone());
        async move { doh.retry(&name, rtype, &failed).await }
    }

    fn dnssec_self_test(&self) -> impl Future<Output = DnssecSelfTest> + MaybeSend {
        let doh = Arc::clone(&self.doh);
        async move { doh.dnssec_self_test().await }
    }

    fn http_get(
        &self,
        url: &url::Url,
        headers: &RequestHeaders,
        limits: &HttpLimits,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>> + MaybeSend {
        let client = self.http.clone();
        let url = url.clone();
        let headers = headers.clone();
        let limits = *limits;
        async move {
            let deadline = Duration::from_millis(limits.timeout_ms);
            match tokio::time::timeout(deadline, fetch(&client, url, &headers, limits)).await {
                Ok(result) => result,
                Err(_) => Err(HttpError::Timeout),
            }
        }
    }
}

async fn fetch(
    client: &reqwest::Client,
    url: url::Url,
    headers: &RequestHeaders,
    limits: HttpLimits,
) -> Result<HttpResponse, HttpError> {
    let mut request = client.get(url.clone());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let mut response = request.send().await.map_err(http_error)?;
    let location = header_text(&response, LOCATION);
    let content_type = header_text(&response, CONTENT_TYPE);
    let status = response.status().as_u16();
    let body = read_bounded(&mut response, limits.max_body_bytes)
        .await
        .map_err(http_error)?;
    Ok(HttpResponse {
        url: url.to_string(),
        status,
        location,
        content_type,
        body: body.bytes,
        body_truncated: body.truncated,
    })
}

/// Host addresses for reqwest, from the view's A records (the fixtures are
/// IPv4 loopback only, so AAAA is not asked).
struct DohAddresses(Doh);

impl reqwest::dns::Resolve for DohAddresses {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let doh = Arc::clone(&self.0);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let answer = doh.resolve(&host, RecordType::A).await?;
            if answer.rcode != ResponseCode::NoError {
                return Err(format!("{host}: the view answered {:?}", answer.rcode).into());
            }
            let addrs: Vec<SocketAddr> = answer
                .records
                .iter()
                .filter_map(mpic_core::dns::ip_addr)
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host}: no A records").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}
