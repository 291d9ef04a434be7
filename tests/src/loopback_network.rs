//! A native [`Network`] for running mpic-core's checks against the loopback
//! fixtures, one per perspective: DNS through the perspective's DoH view,
//! and HTTP to whatever address that same view gives for the host. So a
//! view that hijacks a name also hijacks the HTTP fetches to it, as a BGP
//! or DNS hijack would for a real perspective.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use mpic_core::address_policy::AddressPolicy;
use mpic_core::dnssec_self_test::DnssecSelfTest;
use mpic_core::doh::DohMethod;
use mpic_core::network::{
    ConnectError, DnsAnswer, DnsError, MaybeSend, Network, connection_target,
};
use mpic_core::resolver_set::ResolverSet;

use crate::doh_client::{DohClientError, ReqwestDohTransport, loopback_doh_client};

type Doh = Arc<ResolverSet<ReqwestDohTransport>>;

/// What one perspective sees: its DoH view for names, and plain TCP to
/// the loopback address that view gives (mpic-core's own client on top).
#[derive(Debug, Clone)]
pub struct LoopbackNetwork {
    doh: Doh,
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
        Ok(Self { doh })
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

    type Connection = tokio::net::TcpStream;

    fn address_policy(&self) -> AddressPolicy {
        AddressPolicy::LoopbackOnlyForTests
    }

    async fn connect(&self, address: SocketAddr) -> Result<tokio::net::TcpStream, ConnectError> {
        let target = connection_target(AddressPolicy::LoopbackOnlyForTests, None, address)?;
        tokio::net::TcpStream::connect(target)
            .await
            .map_err(|e| ConnectError::Failed(e.to_string()))
    }

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> + MaybeSend {
        tokio::time::sleep(Duration::from_millis(ms))
    }
}
