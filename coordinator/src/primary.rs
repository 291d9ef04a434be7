//! The primary network perspective: the CA's own look at a check, from the
//! coordinator's host, which the remote perspectives then corroborate (BR
//! 3.2.2.9: "Primary Network Perspective ... the one the CA uses to make the
//! determination").
//!
//! # Semantics
//! A [`Coordinator`] whose configuration has `[primary]` (`mpic serve` and
//! `mpic check --config` alike; `mpic check --primary` adds one) runs, for
//! every check, the same mpic-core check (the
//! same [`CheckCall`] the remote perspectives get, through
//! [`perspective::run`]) over a [`NativeNetwork`] on this host, *alongside*
//! the remote fan-out, within the configured deadline. Then:
//!
//! | primary | remote quorum | `is_valid` | `corroborated_by_remote` |
//! |---|---|---|---|
//! | pass | met | true | true |
//! | pass | not met | false | false |
//! | fail or error | either | false (the primary's reason comes first) | false |
//!
//! A remote perspective corroborates when it observed the expected value
//! itself (its verdict is `pass`); the primary checks against the same
//! expected value, so "remote passes" and "remote saw what the primary saw"
//! coincide for DCV. For CAA the BR asks only that each remote perspective's
//! answer permit issuance, which is exactly its `pass`.
//!
//! The primary's resolver is whatever `[primary] doh_url` names; its DNSSEC
//! validation is that resolver's (the AD bit), so choose a validating one.
//! The primary runs the DNSSEC self-test at start-up
//! ([`PrimaryPerspective::dnssec_self_test`]) and again whenever a lookup
//! failure might count as permission.
//! Its location belongs in `coordinator.primary_location`, which keeps remote
//! perspectives within 500 km of it out of every cohort.

use std::time::Duration;

use mpic_core::dcv::DcvContext;
use mpic_core::dnssec_self_test::DnssecSelfTest;
use mpic_core::name::DomainName;
use mpic_core::network::Network as _;
use mpic_core::perspective::{self, CheckCall};
use mpic_core::report::Verdict;
use tokio::time::Instant;

#[cfg(doc)]
use crate::Coordinator;
use crate::check_call;
use crate::clock;
use crate::config::PrimaryConfig;
use crate::decision::{Decision, Outcome, PrimaryResult, Reason};
use crate::native_network::{
    NativeNetwork, NativeNetworkConfig, NativeNetworkError, ReqwestDohTransport,
};
use mpic_core::check::CheckRequest;

/// The id the primary's check call carries (it is never sent anywhere).
pub const PRIMARY_ID: &str = "primary";

/// The primary perspective: a network on this host.
#[derive(Debug, Clone)]
pub struct PrimaryPerspective {
    network: NativeNetwork,
}

impl PrimaryPerspective {
    /// The primary perspective looking through `network`.
    pub fn new(network: NativeNetwork) -> Self {
        Self { network }
    }

    /// The primary `[primary]` describes: its resolver, self-test names
    /// and (in test worlds only) the loopback port mapping.
    pub fn from_config(config: &PrimaryConfig) -> Result<Self, NativeNetworkError> {
        let mut network = NativeNetworkConfig::new(config.doh_url.clone());
        network.local = config.local;
        network.dnssec_test_names = config.dnssec_test_names.clone();
        Ok(Self::new(NativeNetwork::new(
            ReqwestDohTransport::new()?,
            network,
        )?))
    }

    /// Runs the DNSSEC self-test and logs it: a resolver that fails it is a
    /// warning an operator sees at once (its lookup failures never count as
    /// permission either way), not a refusal to start.
    pub async fn logged_self_test(&self) -> DnssecSelfTest {
        let resolver = self.network.resolver_urls().join(", ");
        let self_test = self.dnssec_self_test().await;
        if self_test.passed() {
            tracing::info!(
                target: "mpic::primary",
                %resolver,
                "primary perspective: DNSSEC self-test passed"
            );
        } else {
            tracing::warn!(
                target: "mpic::primary",
                %resolver,
                "the primary perspective's resolver failed the DNSSEC self-test ({}); its CAA \
                 lookup failures will not count as permission (BR 3.2.2.8)",
                self_test.summary()
            );
        }
        self_test
    }

    /// Runs the DNSSEC self-test on the primary's resolver.
    pub async fn dnssec_self_test(&self) -> DnssecSelfTest {
        self.network.dnssec_self_test().await
    }

    /// Runs `request` from this host (CAA checks get `caa_issuer_domains` when
    /// they name none, as remote perspectives do), giving up at `timeout`.
    /// `corroborated_by_remote` is left false.
    pub async fn run(
        &self,
        request: &CheckRequest,
        caa_issuer_domains: &[DomainName],
        timeout: Duration,
    ) -> PrimaryResult {
        let started = Instant::now();
        let call = CheckCall {
            perspective_ids: vec![PRIMARY_ID.into()],
            attempt: 1,
            check: check_call::for_perspectives(request, caa_issuer_domains),
        };
        let context = DcvContext::new(clock::now_ms() / 1000);
        let run = perspective::run(&self.network, &call, &context);
        let (verdict, reason, observation) = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(result)) => (result.verdict, result.reason, Some(result.observation)),
            Ok(Err(e)) => (
                Verdict::Error,
                format!("the primary's observation could not be recorded: {e}"),
                None,
            ),
            Err(_) => (
                Verdict::Error,
                format!(
                    "the primary perspective did not finish within {} ms",
                    timeout.as_millis()
                ),
                None,
            ),
        };
        PrimaryResult {
            verdict,
            reason,
            observation,
            resolvers: self.network.resolver_urls(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            corroborated_by_remote: false,
        }
    }
}

/// Folds the primary's result into the remote decision (table in the module
/// documentation); the decision's BR 5.4.1 log line then carries it.
pub fn combine(mut decision: Decision, mut primary: PrimaryResult) -> Decision {
    let primary_passed = primary.verdict == Verdict::Pass;
    let facts = &mut decision.facts;
    primary.corroborated_by_remote = primary_passed && facts.outcome == Outcome::Corroborated;
    if !primary_passed {
        if facts.outcome == Outcome::Corroborated {
            facts.outcome = Outcome::NotCorroborated;
        }
        facts.reasons.insert(
            0,
            Reason::PrimaryDidNotPass {
                verdict: primary.verdict,
                reason: primary.reason.clone(),
            },
        );
    }
    facts.primary = Some(primary);
    decision
}

#[cfg(test)]
mod tests;
