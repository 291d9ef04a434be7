//! A perspective's DoH resolvers, in the order they are asked: the DNS half
//! of every real [`crate::network::Network`] (the worker's, the native one,
//! the tests' loopback one), so that the rules below are written once.
//!
//! - A question goes to the first resolver; only "no usable response" moves
//!   it on to the next. A DNS answer, even SERVFAIL, is this perspective's
//!   view and is returned as is.
//! - A retry after a failure rcode ([`ResolverSet::retry`]) goes to the
//!   resolver after the one that failed, when there is another; with a
//!   single resolver it asks that one again with the CD bit set, so the
//!   answer cannot be the failure its validator cached a moment ago.
//! - The DNSSEC self-test ([`crate::dnssec_self_test`]) asks every resolver.

use hickory_proto::rr::RecordType;

use crate::dnssec_self_test::{self, DnssecSelfTest, DnssecTestNames};
use crate::doh::{DohClient, DohTransport};
use crate::network::{DnsAnswer, DnsError};

/// The resolvers of one perspective and the names of its DNSSEC self-test.
#[derive(Debug, Clone)]
pub struct ResolverSet<T> {
    clients: Vec<DohClient<T>>,
    test_names: DnssecTestNames,
}

/// A resolver set needs a resolver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no DoH resolver configured")]
pub struct NoResolver;

impl<T: DohTransport> ResolverSet<T> {
    /// The resolvers in the order they are asked, and the self-test's names;
    /// refuses an empty list.
    pub fn new(
        clients: Vec<DohClient<T>>,
        test_names: DnssecTestNames,
    ) -> Result<Self, NoResolver> {
        if clients.is_empty() {
            return Err(NoResolver);
        }
        Ok(Self {
            clients,
            test_names,
        })
    }

    /// The resolvers' URLs, in order, as reports name them.
    pub fn urls(&self) -> Vec<String> {
        self.clients
            .iter()
            .map(|c| c.resolver().to_owned())
            .collect()
    }

    /// The DoH clients, in the order they are asked.
    pub fn clients(&self) -> &[DohClient<T>] {
        &self.clients
    }

    /// The bogus and signed names the DNSSEC self-test asks every resolver.
    pub fn test_names(&self) -> &DnssecTestNames {
        &self.test_names
    }

    /// Asks the first resolver that gives a usable response.
    pub async fn resolve(&self, name: &str, rtype: RecordType) -> Result<DnsAnswer, DnsError> {
        let mut last = DnsError::Transport("no DoH resolver configured".into());
        for client in &self.clients {
            match client.query(name, rtype).await {
                Ok(answer) => return Ok(answer),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Asks again after `failed` (see the module docs).
    pub async fn retry(
        &self,
        name: &str,
        rtype: RecordType,
        failed: &DnsAnswer,
    ) -> Result<DnsAnswer, DnsError> {
        match self.next_after(&failed.resolver) {
            Some(other) => other.query(name, rtype).await,
            None => match self.clients.first() {
                Some(only) => only.query_checking_disabled(name, rtype).await,
                None => Err(DnsError::Transport("no DoH resolver configured".into())),
            },
        }
    }

    /// The resolver after `resolver` in order (wrapping), if it is another.
    fn next_after(&self, resolver: &str) -> Option<&DohClient<T>> {
        if self.clients.len() < 2 {
            return None;
        }
        let at = self
            .clients
            .iter()
            .position(|c| c.resolver() == resolver)
            .unwrap_or(self.clients.len() - 1);
        self.clients.get((at + 1) % self.clients.len())
    }

    /// Runs the DNSSEC self-test on every resolver.
    pub async fn dnssec_self_test(&self) -> DnssecSelfTest {
        let names = &self.test_names;
        let mut resolvers = Vec::with_capacity(self.clients.len());
        for client in &self.clients {
            let bogus = client
                .query(&names.bogus, dnssec_self_test::PROBE_TYPE)
                .await;
            let signed = client
                .query(&names.signed, dnssec_self_test::PROBE_TYPE)
                .await;
            resolvers.push(dnssec_self_test::judge(
                client.resolver(),
                names,
                bogus,
                signed,
            ));
        }
        DnssecSelfTest {
            names: names.clone(),
            resolvers,
        }
    }
}
