//! A loopback DNS-over-HTTPS resolver (RFC 8484, over plain HTTP) serving a
//! closed world of zones, with per-view overrides: each view is what one
//! perspective's resolver sees, so a test can poison one view while the
//! others stay honest.
//!
//! - [`DnsWorld`]: zones loaded from master-file text, some marked signed
//!   (answers wholly from signed zones carry AD=1).
//! - [`DohServer`]: serves the world on `127.0.0.1:<random port>`;
//!   `url_for("view")` is `http://127.0.0.1:PORT/dns-query/view`.
//! - [`ViewHandle`]: overrides (poisoned records, rcodes, delays, truncated,
//!   garbage, dripped or oversized answers, answers to another request, HTTP
//!   errors) and query counts for one view. Faults below HTTP (resets,
//!   bytes that are not HTTP) are [`crate::hostile_tcp`]'s, in front of the
//!   server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mpic_tests::dns_fixture::{DnsWorld, DohServer};
//! let world = DnsWorld::from_zone_text(
//!     "$ORIGIN example.com.\n$TTL 300\n@ SOA ns hm 1 1 1 1 1\nwww A 127.0.0.1\n",
//! )?;
//! let server = DohServer::start(world).await?;
//! let honest = server.url_for("honest");
//! let hijacked = server.view("hijacked");
//! hijacked.override_text("www.example.com. 60 IN A 127.0.0.2")?;
//! # Ok(()) }
//! ```

mod resolution;
mod server;
mod view;
mod world;
mod zone_text;

pub use server::{DEFAULT_VIEW, DohServer, MAX_DELAY, OVERSIZED_BYTES};
pub use view::{Fault, ViewHandle};
pub use world::{DnsWorld, ZoneSecurity};

/// The DNSSEC self-test's known-bogus name, as every view of the fixture
/// serves it: SERVFAIL (DNSSEC Bogus) from a validating view.
pub const BOGUS_NAME: &str = "bogus.dnssec-probe.test";

/// The self-test's known-signed name: NOERROR with AD=1 from a validating
/// view.
pub const SIGNED_NAME: &str = "signed.dnssec-probe.test";

/// The self-test names the fixture serves, for perspectives pointed at it.
pub fn dnssec_test_names() -> mpic_core::dnssec_self_test::DnssecTestNames {
    mpic_core::dnssec_self_test::DnssecTestNames {
        bogus: BOGUS_NAME.into(),
        signed: SIGNED_NAME.into(),
    }
}

/// What went wrong setting up the DNS fixture.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsFixtureError {
    #[error("zone text does not parse: {0}")]
    ZoneText(String),
    #[error("record at {owner} is invalid: {reason}")]
    BadRecord { owner: String, reason: String },
    #[error("ANAME is not supported: the loader carries DNAME through hickory's parser as ANAME")]
    AnameUnsupported,
    #[error("zone text has neither an SOA nor an $ORIGIN to say where its zone starts")]
    NoApex,
    #[error("record at {0} lies outside every zone (give each zone an SOA at its apex)")]
    OutsideZones(String),
    #[error("{0} is not the apex of a loaded zone")]
    NotAnApex(String),
    #[error("{name:?} is not a domain name: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("{0} is not an HTTP status code")]
    InvalidStatus(u16),
}

/// `name` as the fixtures key it: fully qualified, lower case.
fn parse_name(name: &str) -> Result<hickory_proto::rr::Name, DnsFixtureError> {
    let mut parsed =
        hickory_proto::rr::Name::from_ascii(name).map_err(|e| DnsFixtureError::InvalidName {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    parsed.set_fqdn(true);
    Ok(parsed.to_lowercase())
}
