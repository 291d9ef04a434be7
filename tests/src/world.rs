//! A whole MPIC topology on one machine: several real workerd perspectives,
//! each with its own DoH view of one zone world, and two challenge web
//! servers (the honest one on 127.0.0.1, the attacker's on 127.0.0.2, same
//! port). A perspective reaches a challenge host through its own view, so
//! poisoning one view makes exactly that perspective see the attacker.
//!
//! Every perspective runs in local mode (`MPIC_LOCAL_MODE`): DoH over plain
//! HTTP to loopback, challenge ports 80/443 mapped to the fixture's port.

use std::net::Ipv4Addr;

use ed25519_dalek::SigningKey;
use futures_util::future::try_join_all;
use mpic_core::report::{Coordinates, Rir};

use crate::dns_fixture::{DnsWorld, DohServer, ViewHandle};
use crate::http_fixture::HttpServer;
use crate::keys;
use crate::workerd::{Perspective, PerspectiveSpec, StartError};

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
}

/// One running perspective of the world.
pub struct WorldPerspective {
    pub site: Site,
    pub key: SigningKey,
    /// The DoH view this perspective resolves through.
    pub view: ViewHandle,
    pub doh_url: String,
    pub process: Perspective,
}

impl WorldPerspective {
    pub fn url(&self) -> String {
        self.process.base_url()
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
}

/// The fixtures and the perspectives; dropping it stops them all.
pub struct World {
    pub dns: DohServer,
    /// Serves on 127.0.0.1: where honest DNS points challenge hosts.
    pub honest_http: HttpServer,
    /// Serves on 127.0.0.2, same port: where a poisoned view points them.
    pub attacker_http: HttpServer,
    pub perspectives: Vec<WorldPerspective>,
}

/// The attacker's web server address: poisoned views resolve victims here.
pub const ATTACKER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

impl World {
    /// Starts the fixtures for `zones` and one workerd perspective per site,
    /// all at once. Perspective `i` signs with `keys::perspective(i + 1)`
    /// and accepts calls signed by `keys::coordinator()`.
    pub async fn start(zones: &str, sites: &[Site]) -> Result<Self, WorldError> {
        let dns = DohServer::start(DnsWorld::from_zone_text(zones)?).await?;
        let mut servers = HttpServer::start_group(&[Ipv4Addr::LOCALHOST, ATTACKER_IP]).await?;
        let (Some(attacker_http), Some(honest_http)) = (servers.pop(), servers.pop()) else {
            return Err(WorldError::Io(std::io::Error::other(
                "HTTP fixture group incomplete",
            )));
        };
        let port = honest_http.port();
        let starts = sites.iter().enumerate().map(|(i, site)| {
            let key = keys::perspective(u8::try_from(i + 1).unwrap_or(u8::MAX));
            let doh_url = dns.url_for(site.id);
            let view = dns.view(site.id);
            let mut spec = PerspectiveSpec::default();
            let vars = [
                ("PERSPECTIVE_ID", site.id.to_string()),
                ("RIR", site.rir.as_str().to_string()),
                ("REGION", site.region.to_string()),
                ("LATITUDE", site.latitude.to_string()),
                ("LONGITUDE", site.longitude.to_string()),
                ("DOH_RESOLVERS", doh_url.clone()),
                ("COORDINATOR_KEYS", keys::public_text(&keys::coordinator())),
                ("SIGNING_KEY", keys::seed_text(&key)),
                ("MPIC_LOCAL_MODE", "loopback-fixtures".to_string()),
                ("LOCAL_HTTP_PORT", port.to_string()),
            ];
            for (k, v) in vars {
                spec.vars.insert(k.to_string(), v);
            }
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
            perspectives,
        })
    }

    pub fn perspective(&self, id: &str) -> Option<&WorldPerspective> {
        self.perspectives.iter().find(|p| p.site.id == id)
    }
}
