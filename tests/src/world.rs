//! A whole MPIC topology on one machine: several real workerd perspectives,
//! each with its own DoH view of one zone world, two challenge web servers
//! (the honest one on 127.0.0.1, the attacker's on 127.0.0.2, same port) and
//! two TLS servers likewise (standing in for port 443). A perspective
//! reaches a challenge host through its own view, so poisoning one view
//! makes exactly that perspective see the attacker.
//!
//! Every perspective runs in local mode (`MPIC_LOCAL_MODE`), which is two
//! facts: it connects to loopback only, and ports 80 and 443 go to the
//! fixtures' ports. Resolution, the address check, TLS and ALPN are the
//! production code's.

use std::net::{IpAddr, Ipv4Addr};

use ed25519_dalek::{SigningKey, VerifyingKey};
use futures_util::future::try_join_all;
use mpic_coordinator::Environment;
use mpic_coordinator::{Config, Coordinator, HttpTransport};
use mpic_core::location::Coordinates;
use mpic_core::rir::Rir;

use crate::dns_fixture::{DnsWorld, DohServer, ViewHandle};
use crate::http_fixture::HttpServer;
use crate::keys;
use crate::tls_fixture::{TlsBehaviour, TlsServer};
use crate::workerd::{Perspective, PerspectiveSpec, StartError};
use mpic_core::loopback::LocalPorts;

/// Where a perspective claims to be.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub id: &'static str,
    pub rir: Rir,
    pub region: &'static str,
    pub latitude: f64,
    pub longitude: f64,
}

/// Six sites in five RIRs, pairwise more than 500 km apart, like a real
/// deployment (see wrangler.toml).
pub const SIX_SITES: [Site; 6] = [
    site("us-east", Rir::Arin, "N. Virginia", 39.04, -77.49),
    site("us-west", Rir::Arin, "Oregon", 45.84, -119.70),
    site("eu-west", Rir::RipeNcc, "Dublin", 53.35, -6.26),
    site("sa-east", Rir::Lacnic, "Sao Paulo", -23.55, -46.63),
    site("af-south", Rir::Afrinic, "Cape Town", -33.92, 18.42),
    site("ap-southeast", Rir::Apnic, "Singapore", 1.35, 103.82),
];

const fn site(
    id: &'static str,
    rir: Rir,
    region: &'static str,
    latitude: f64,
    longitude: f64,
) -> Site {
    Site {
        id,
        rir,
        region,
        latitude,
        longitude,
    }
}

impl Site {
    pub fn coordinates(&self) -> Option<Coordinates> {
        Coordinates::new(self.latitude, self.longitude).ok()
    }

    /// This site's `[[perspective]]` table for a coordinator configuration,
    /// reached at `url` and verified with `key`.
    pub fn perspective_toml(&self, url: &str, key: &VerifyingKey) -> String {
        format!(
            r#"
[[perspective]]
id = "{id}"
url = "{url}"
rir = "{rir}"
region = "{region}"
latitude = {lat}
longitude = {lon}
public_key = "{key}"
"#,
            id = self.id,
            rir = self.rir.as_str(),
            region = self.region,
            lat = self.latitude,
            lon = self.longitude,
            key = mpic_core::keys::format_verifying_key(key),
        )
    }
}

/// One running perspective of the world.
pub struct WorldPerspective {
    pub site: Site,
    pub key: SigningKey,
    /// The DoH view this perspective resolves through.
    pub view: ViewHandle,
    /// The resolver URL it was started with (its `DOH_RESOLVERS`).
    pub doh_url: String,
    pub process: Perspective,
}

impl WorldPerspective {
    pub fn url(&self) -> String {
        self.process.base_url()
    }
}

/// How the coordinator of a scenario sees the world.
#[derive(Debug, Clone)]
pub struct CoordinatorSetup {
    /// `"br"` or `"strict"`.
    pub quorum: &'static str,
    pub max_attempts: u32,
    pub call_timeout_ms: u64,
    /// Perspective id -> the URL the coordinator uses instead of the real one
    /// (a dead port, an impostor).
    pub url_overrides: Vec<(String, String)>,
}

impl Default for CoordinatorSetup {
    fn default() -> Self {
        Self {
            quorum: "br",
            max_attempts: 1,
            call_timeout_ms: 20_000,
            url_overrides: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("DNS fixture: {0}")]
    Dns(#[from] crate::dns_fixture::DnsFixtureError),
    #[error("fixture server: {0}")]
    Io(#[from] std::io::Error),
    #[error("perspective: {0}")]
    Perspective(#[from] StartError),
    #[error("coordinator: {0}")]
    Coordinator(String),
}

/// The fixtures and the perspectives; dropping it stops them all.
pub struct World {
    pub dns: DohServer,
    /// Serves on 127.0.0.1: where honest DNS points challenge hosts.
    pub honest_http: HttpServer,
    /// Serves on 127.0.0.2, same port: where a poisoned view points them.
    pub attacker_http: HttpServer,
    /// TLS on 127.0.0.1, standing in for port 443 (https and
    /// acme-tls-alpn-01); it starts hanging up on every handshake.
    pub honest_tls: TlsServer,
    /// TLS on 127.0.0.2, the same port.
    pub attacker_tls: TlsServer,
    pub perspectives: Vec<WorldPerspective>,
    /// Where a scenario keeps its decisions' evidence.
    evidence: tempfile::TempDir,
}

/// The attacker's web server address: poisoned views resolve victims here.
pub const ATTACKER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

impl World {
    /// Starts the fixtures for `zones` and one workerd perspective per site,
    /// all at once. Perspective `i` signs with `keys::perspective(i + 1)`
    /// and accepts calls signed by `keys::coordinator()`.
    pub async fn start(zones: &str, sites: &[Site]) -> Result<Self, WorldError> {
        Self::start_with_resolvers(zones, sites, |_, doh_url| doh_url.to_owned()).await
    }

    /// Like [`World::start`], but perspective `i` resolves through
    /// `resolver(i, doh_url)` instead of `doh_url` (its view's URL): e.g. a
    /// [`crate::hostile_tcp::HostileTcp`] relaying to the DoH server, which a
    /// test turns hostile at run time. The view is still the site's.
    pub async fn start_with_resolvers(
        zones: &str,
        sites: &[Site],
        resolver: impl Fn(usize, &str) -> String,
    ) -> Result<Self, WorldError> {
        let dns = DohServer::start(DnsWorld::from_zone_text(zones)?).await?;
        let mut servers = HttpServer::start_group(&[Ipv4Addr::LOCALHOST, ATTACKER_IP]).await?;
        let (Some(attacker_http), Some(honest_http)) = (servers.pop(), servers.pop()) else {
            return Err(WorldError::Io(std::io::Error::other(
                "HTTP fixture group incomplete",
            )));
        };
        let mut tls = TlsServer::start_group(
            &[IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V4(ATTACKER_IP)],
            TlsBehaviour::Reset,
        )
        .await
        .map_err(|e| WorldError::Io(std::io::Error::other(e.to_string())))?;
        let (Some(attacker_tls), Some(honest_tls)) = (tls.pop(), tls.pop()) else {
            return Err(WorldError::Io(std::io::Error::other(
                "TLS fixture group incomplete",
            )));
        };
        let ports = LocalPorts {
            http: honest_http.port(),
            https: Some(honest_tls.port()),
        };
        let starts = sites.iter().enumerate().map(|(i, site)| {
            let key = keys::perspective(u8::try_from(i + 1).unwrap_or(u8::MAX));
            let doh_url = resolver(i, &dns.url_for(site.id));
            let view = dns.view(site.id);
            let spec = perspective_spec(site, &key, &doh_url, ports);
            let site = site.clone();
            async move {
                let process = Perspective::start(&spec).await?;
                Ok::<_, StartError>(WorldPerspective {
                    site,
                    key,
                    view,
                    doh_url,
                    process,
                })
            }
        });
        let perspectives = try_join_all(starts).await?;
        Ok(World {
            dns,
            honest_http,
            attacker_http,
            honest_tls,
            attacker_tls,
            perspectives,
            evidence: tempfile::Builder::new()
                .prefix("mpic-evidence-")
                .tempdir()?,
        })
    }

    /// The fixture ports standing in for 80 and 443.
    pub fn local_ports(&self) -> LocalPorts {
        LocalPorts {
            http: self.honest_http.port(),
            https: Some(self.honest_tls.port()),
        }
    }

    /// A directory for this world's evidence store, removed with it.
    pub fn evidence_dir(&self) -> &std::path::Path {
        self.evidence.path()
    }

    pub fn perspective(&self, id: &str) -> Option<&WorldPerspective> {
        self.perspectives.iter().find(|p| p.site.id == id)
    }

    /// Undoes every view's overrides and faults and every request count.
    pub fn reset(&self) {
        for p in &self.perspectives {
            p.view.clear_overrides();
            p.view.reset_counts();
        }
        self.honest_http.reset_counts();
        self.attacker_http.reset_counts();
        self.honest_tls.reset_seen();
        self.attacker_tls.reset_seen();
    }

    /// A coordinator configuration (TOML) naming every perspective of this
    /// world with its real key and location, all of them in each cohort.
    pub fn coordinator_toml(&self, setup: &CoordinatorSetup) -> String {
        let mut toml = format!(
            r#"[coordinator]
signing_key = "{signing_key}"
cohort_secret = "world-cohort-secret-0123456789abcdef0123456789"

[defaults]
perspective_count = {count}
quorum = "{quorum}"
call_timeout_ms = {call_timeout}
deadline_ms = {deadline}
max_attempts = {max_attempts}
caa_issuer_domains = ["ca.example"]
max_report_age_ms = 120000
max_future_skew_ms = 5000
"#,
            signing_key = keys::seed_text(&keys::coordinator()),
            count = self.perspectives.len(),
            quorum = setup.quorum,
            call_timeout = setup.call_timeout_ms,
            deadline = setup.call_timeout_ms * u64::from(setup.max_attempts) + 5_000,
            max_attempts = setup.max_attempts,
        );
        for p in &self.perspectives {
            let url = setup
                .url_overrides
                .iter()
                .find(|(id, _)| id == p.site.id)
                .map(|(_, url)| url.clone())
                .unwrap_or_else(|| p.url());
            toml.push_str(&p.site.perspective_toml(&url, &p.key.verifying_key()));
        }
        toml
    }

    /// A coordinator over this world's perspectives, talking HTTP to them.
    pub fn coordinator(
        &self,
        setup: &CoordinatorSetup,
    ) -> Result<Coordinator<HttpTransport>, WorldError> {
        let env = Environment {
            base_dir: std::env::temp_dir(),
            var: &|_| None,
            now_ms: crate::perspective_client::now_ms(),
        };
        let config = Config::from_toml(&self.coordinator_toml(setup), &env)
            .map_err(|e| WorldError::Coordinator(e.to_string()))?;
        let transport = HttpTransport::new().map_err(|e| WorldError::Coordinator(e.to_string()))?;
        Coordinator::new(config, transport).map_err(|e| WorldError::Coordinator(e.to_string()))
    }

    /// Starts one more perspective that claims to be `claimed_id` but signs
    /// with `key` (e.g. another perspective's leaked key), using the view of
    /// `claimed_id`.
    pub async fn start_impostor(
        &self,
        claimed_id: &str,
        key: &SigningKey,
    ) -> Result<Perspective, WorldError> {
        let site = self
            .perspective(claimed_id)
            .ok_or_else(|| WorldError::Coordinator(format!("no perspective {claimed_id}")))?;
        let spec = perspective_spec(&site.site, key, &site.doh_url, self.local_ports());
        Ok(Perspective::start(&spec).await?)
    }
}

/// The settings of a loopback-world perspective at `site`: signing with
/// `key`, resolving through `doh_url`, reaching ports 80 and 443 at `ports`.
pub fn perspective_spec(
    site: &Site,
    key: &SigningKey,
    doh_url: &str,
    ports: LocalPorts,
) -> PerspectiveSpec {
    let mut spec = PerspectiveSpec::default();
    let vars = [
        ("PERSPECTIVE_ID", site.id.to_string()),
        ("RIR", site.rir.as_str().to_string()),
        ("REGION", site.region.to_string()),
        ("LATITUDE", site.latitude.to_string()),
        ("LONGITUDE", site.longitude.to_string()),
        ("DOH_RESOLVERS", doh_url.to_string()),
        ("COORDINATOR_KEYS", keys::public_text(&keys::coordinator())),
        ("SIGNING_KEY", keys::seed_text(key)),
        ("MPIC_LOCAL_MODE", "loopback-fixtures".to_string()),
        ("LOCAL_HTTP_PORT", ports.http.to_string()),
        // The probe names every view of the DoH fixture serves.
        (
            "DNSSEC_TEST_BOGUS_NAME",
            crate::dns_fixture::BOGUS_NAME.to_string(),
        ),
        (
            "DNSSEC_TEST_SIGNED_NAME",
            crate::dns_fixture::SIGNED_NAME.to_string(),
        ),
    ];
    for (k, v) in vars {
        spec.vars.insert(k.to_string(), v);
    }
    if let Some(https) = ports.https {
        spec.vars
            .insert("LOCAL_HTTPS_PORT".to_string(), https.to_string());
    }
    spec
}
