//! In-process perspectives: what `mpic check` uses when no configuration
//! file names remote perspectives.
//!
//! Each in-process perspective has its own id (`embedded-1`, ...), its own
//! freshly generated signing key, an RIR and coordinates from a fixed list of
//! sites ([`SITES`]: five RIRs, pairwise more than 500 km apart, so the
//! normal cohort and quorum code accepts them) and its own `NativeNetwork`.
//! The coordinator talks to them through [`InProcessTransport`], whose
//! perspectives answer through the same [`Responder`] as a remote one
//! (authenticate, replay guard, parse, route, run with a deadline, sign).
//! The coordinator then verifies those reports exactly as it verifies remote
//! ones.
//!
//! **They are not BR-compliant.** The sites are labels: every in-process
//! perspective runs on this host and reaches the Internet from one network
//! location through one resolver, so a BGP or DNS hijack seen here is seen
//! by all of them. Every output of such a check must say so
//! ([`NOT_BR_COMPLIANT_NOTICE`]).

use std::collections::HashMap;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use mpic_core::dcv::DcvContext;
use mpic_core::location::{Coordinates, Location};
use mpic_core::name::DomainName;
use mpic_core::network::Network;
use mpic_core::perspective::{Identity, Vantage};
use mpic_core::quorum::Policy;
use mpic_core::report::SignedReport;
use mpic_core::request_auth::RequestEnvelope;
use mpic_core::responder::{DEFAULT_CHECK_DEADLINE_MS, Refusal, Responder, ResponderSettings};
use mpic_core::rir::Rir;
use tokio::time::Instant;
use url::Url;
use zeroize::Zeroizing;

use crate::clock;
use crate::config::{Config, Defaults, PerspectiveConfig};
use crate::native_network::{
    NativeNetwork, NativeNetworkConfig, NativeNetworkError, ReqwestDohTransport,
};
use crate::transport::{CallError, PerspectiveTransport};

/// Says, in every output of a check run with in-process perspectives, why
/// it does not meet BR 3.2.2.9.
pub const NOT_BR_COMPLIANT_NOTICE: &str = "in-process perspectives all run on this host and share one \
     network location and one resolver: this check is NOT BR 3.2.2.9-compliant multi-perspective \
     corroboration (use --config with remote perspectives for issuance)";

/// In-process perspectives when not told otherwise.
pub const DEFAULT_COUNT: usize = 6;

/// Request timestamps accepted this far either side of now (the worker's
/// default skew window).
const MAX_SKEW_MS: u64 = 30_000;
/// Nonces remembered per perspective; a CLI run sends a handful.
const REPLAY_CAPACITY: usize = 1024;
/// Scheme of the placeholder URLs: nothing can fetch them by mistake.
const URL_SCHEME: &str = "in-process";

/// Where an in-process perspective claims to be: a label only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// The RIR quorum counts the perspective under.
    pub rir: Rir,
    /// City and country code, as its region label shows it.
    pub place: &'static str,
    /// Degrees north (negative: south), for the cohort's distance rule.
    pub latitude: f64,
    /// Degrees east (negative: west).
    pub longitude: f64,
}

/// The labels, in the order perspectives get them: the first five cover all
/// five RIRs; all are pairwise more than 500 km apart.
pub const SITES: [Site; 8] = [
    Site {
        rir: Rir::Arin,
        place: "Ashburn, US",
        latitude: 39.04,
        longitude: -77.49,
    },
    Site {
        rir: Rir::RipeNcc,
        place: "Frankfurt, DE",
        latitude: 50.11,
        longitude: 8.68,
    },
    Site {
        rir: Rir::Apnic,
        place: "Singapore, SG",
        latitude: 1.35,
        longitude: 103.82,
    },
    Site {
        rir: Rir::Lacnic,
        place: "São Paulo, BR",
        latitude: -23.55,
        longitude: -46.63,
    },
    Site {
        rir: Rir::Afrinic,
        place: "Johannesburg, ZA",
        latitude: -26.20,
        longitude: 28.05,
    },
    Site {
        rir: Rir::Apnic,
        place: "Tokyo, JP",
        latitude: 35.68,
        longitude: 139.69,
    },
    Site {
        rir: Rir::Arin,
        place: "Los Angeles, US",
        latitude: 34.05,
        longitude: -118.24,
    },
    Site {
        rir: Rir::RipeNcc,
        place: "Madrid, ES",
        latitude: 40.42,
        longitude: -3.70,
    },
];

/// Why the in-process perspectives could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// The count asked for is not between 2 and the number of [`SITES`].
    #[error("{count} in-process perspectives requested; 2 to {} are available", SITES.len())]
    Count {
        /// The count asked for.
        count: usize,
    },
    /// The OS gave no randomness for the signing keys or the cohort secret.
    #[error("no randomness from the OS for keys: {0}")]
    Randomness(String),
    /// A site's latitude or longitude is out of range (a bug in [`SITES`]).
    #[error("site {index} has invalid coordinates")]
    Coordinates {
        /// The site's index in [`SITES`].
        index: usize,
    },
    /// The `in-process://{id}/` placeholder URL did not parse (a bug).
    #[error("placeholder URL for {id}: {detail}")]
    Url {
        /// The perspective's id.
        id: String,
        /// The URL parser's error.
        detail: String,
    },
    /// A perspective's network could not be made (its resolver's URL, or
    /// the HTTP client).
    #[error(transparent)]
    Network(#[from] NativeNetworkError),
}

/// What [`in_process`] sets up besides the perspectives.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedOptions {
    /// 2 to [`SITES`]`.len()`.
    pub count: usize,
    /// Sent with CAA checks that name no issuer domain names; may be empty
    /// when every CAA request names its own.
    pub caa_issuer_domains: Vec<DomainName>,
    /// How long one perspective's call may take; each perspective's own
    /// check deadline is kept within it.
    pub call_timeout: Duration,
    /// How long the whole check may take (raised to `call_timeout` if
    /// lower).
    pub deadline: Duration,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            count: DEFAULT_COUNT,
            caa_issuer_domains: Vec::new(),
            call_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
        }
    }
}

/// A configuration naming the in-process perspectives, and the transport
/// that reaches them.
pub struct Embedded<N> {
    /// A configuration with a new coordinator key and cohort secret, one
    /// attempt, and the in-process perspectives as its perspectives.
    pub config: Config,
    /// What reaches them; give it to [`crate::Coordinator::new`] with
    /// `config`.
    pub transport: InProcessTransport<N>,
}

/// In-process perspectives over `NativeNetwork`s to `network`'s resolver
/// (one shared connection pool to the resolver, nothing else shared).
pub fn native(
    options: &EmbeddedOptions,
    network: &NativeNetworkConfig,
) -> Result<Embedded<NativeNetwork>, EmbeddedError> {
    let transport = ReqwestDohTransport::new().map_err(NativeNetworkError::Http)?;
    in_process(options, |_| {
        NativeNetwork::new(transport.clone(), network.clone()).map_err(EmbeddedError::from)
    })
}

fn random_key() -> Result<SigningKey, EmbeddedError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut_slice()).map_err(|e| EmbeddedError::Randomness(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// In-process perspectives over networks made by `network_for(index)`.
pub fn in_process<N>(
    options: &EmbeddedOptions,
    mut network_for: impl FnMut(usize) -> Result<N, EmbeddedError>,
) -> Result<Embedded<N>, EmbeddedError> {
    let count = options.count;
    if !(2..=SITES.len()).contains(&count) {
        return Err(EmbeddedError::Count { count });
    }
    let coordinator_key = random_key()?;
    let mut cohort_secret = Zeroizing::new(vec![0u8; 32]);
    getrandom::fill(cohort_secret.as_mut_slice())
        .map_err(|e| EmbeddedError::Randomness(e.to_string()))?;

    let mut configs = Vec::with_capacity(count);
    let mut perspectives = HashMap::with_capacity(count);
    for (index, site) in SITES.iter().take(count).enumerate() {
        let id = format!("embedded-{}", index + 1);
        let location = Coordinates::new(site.latitude, site.longitude)
            .map_err(|_| EmbeddedError::Coordinates { index })?;
        let key = random_key()?;
        let region = format!("in-process, labelled {}", site.place);
        let url_error = |detail: String| EmbeddedError::Url {
            id: id.clone(),
            detail,
        };
        let url =
            Url::parse(&format!("{URL_SCHEME}://{id}/")).map_err(|e| url_error(e.to_string()))?;
        let check_url = url.join("v1/check").map_err(|e| url_error(e.to_string()))?;
        configs.push(PerspectiveConfig {
            id: id.clone(),
            url,
            check_url,
            rir: site.rir,
            region: region.clone(),
            location,
            public_key: key.verifying_key(),
        });
        let identity = Identity {
            perspective_id: id.clone(),
            rir: site.rir,
            location: Location {
                region,
                coordinates: Some(location),
            },
        };
        perspectives.insert(
            id,
            InProcessPerspective {
                responder: Responder::new(ResponderSettings {
                    identity,
                    signing_key: key,
                    coordinator_keys: vec![coordinator_key.verifying_key()],
                    max_skew_ms: MAX_SKEW_MS,
                    replay_capacity: REPLAY_CAPACITY,
                    check_deadline_ms: DEFAULT_CHECK_DEADLINE_MS
                        .min(u64::try_from(options.call_timeout.as_millis()).unwrap_or(u64::MAX)),
                }),
                network: network_for(index)?,
            },
        );
    }

    let defaults = Defaults {
        perspective_count: count,
        min_perspective_count: count,
        policy: Policy::Br,
        call_timeout: options.call_timeout,
        deadline: options.deadline.max(options.call_timeout),
        // Another attempt would ask the same perspectives from the same
        // place: it could only repeat the answer.
        max_attempts: 1,
        max_attempts_cap: 1,
        caa_issuer_domains: options.caa_issuer_domains.clone(),
        max_report_age: Duration::from_secs(60).max(options.call_timeout),
        max_future_skew: Duration::from_secs(5),
    };
    let transport = InProcessTransport { perspectives };
    let config = Config::from_parts(coordinator_key, cohort_secret, defaults, configs);
    Ok(Embedded { config, transport })
}

/// One in-process perspective: the same responder as a remote one, over a
/// network on this host.
struct InProcessPerspective<N> {
    responder: Responder,
    network: N,
}

impl<N> std::fmt::Debug for InProcessPerspective<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessPerspective")
            .field("identity", self.responder.identity())
            .finish_non_exhaustive()
    }
}

/// Why an in-process perspective refused a call (what a remote one would
/// answer with a non-200 status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InProcessRefusal {
    /// No in-process perspective has this id.
    #[error("no in-process perspective is called {0:?}")]
    UnknownPerspective(String),
    /// The perspective's responder refused the call, as a remote one would
    /// (bad signature, replay, malformed call, wrong perspective, ...).
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl From<InProcessRefusal> for CallError {
    fn from(refusal: InProcessRefusal) -> Self {
        CallError::Transport(format!("in-process perspective refused: {refusal}"))
    }
}

/// Reaches in-process perspectives by calling them (see the module
/// documentation).
pub struct InProcessTransport<N> {
    perspectives: HashMap<String, InProcessPerspective<N>>,
}

impl<N> std::fmt::Debug for InProcessTransport<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessTransport")
            .field(
                "perspectives",
                &self.perspectives.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The resolvers a network asks, as its reports name them.
pub trait ResolverNames {
    /// The resolvers' names (DoH URLs for a `NativeNetwork`).
    fn resolver_names(&self) -> Vec<String>;
}

impl<T: mpic_core::doh::DohTransport + Sync> ResolverNames for NativeNetwork<T> {
    fn resolver_names(&self) -> Vec<String> {
        self.resolver_urls()
    }
}

impl<N: Network + ResolverNames + Send + Sync> InProcessTransport<N> {
    /// What the perspective `id` answers to `envelope`: the worker's
    /// `/v1/check` handler, minus HTTP.
    pub async fn answer(
        &self,
        id: &str,
        envelope: &RequestEnvelope,
    ) -> Result<SignedReport, InProcessRefusal> {
        let perspective = self
            .perspectives
            .get(id)
            .ok_or_else(|| InProcessRefusal::UnknownPerspective(id.to_owned()))?;
        let responder = &perspective.responder;
        let admitted = responder.admit_envelope(envelope, clock::now_ms())?;
        let context = DcvContext::new(admitted.received_at_ms() / 1000);
        let backstop = tokio::time::sleep(responder.backstop_after());
        let answer = responder
            .run(
                admitted,
                &perspective.network,
                &context,
                Vantage {
                    resolvers: perspective.network.resolver_names(),
                    // The coordinator's own host: no platform names one.
                    data_center: None,
                },
                backstop,
                clock::now_ms,
            )
            .await?;
        Ok(answer.report)
    }
}

impl<N: Network + ResolverNames + Send + Sync> PerspectiveTransport for InProcessTransport<N> {
    async fn call(
        &self,
        perspective: &PerspectiveConfig,
        envelope: RequestEnvelope,
        deadline: Instant,
    ) -> Result<SignedReport, CallError> {
        match tokio::time::timeout_at(deadline, self.answer(&perspective.id, &envelope)).await {
            Ok(answer) => answer.map_err(CallError::from),
            Err(_) => Err(CallError::Timeout),
        }
    }
}

#[cfg(test)]
mod tests;
