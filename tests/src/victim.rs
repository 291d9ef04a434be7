//! The domain under attack in the loopback worlds: its zone, its ACME
//! challenge, and the Open MPIC checks a CA would run for it.

use mpic_core::check::key_authorization_digest;
use serde_json::{Value, json};

use crate::http_fixture::{HttpFixtureError, acme_challenge_path};
use crate::tls_fixture::{TlsAlpnCertificate, TlsBehaviour, TlsFixtureError};
use crate::world::World;

/// The victim's name in the zone of [`zone`].
pub const DOMAIN: &str = "victim.example";
/// The http-01 token.
pub const TOKEN: &str = "tok-Aa09_-";
/// What the victim's web server serves for [`TOKEN`].
pub const KEY_AUTHORIZATION: &str = "tok-Aa09_-.thumb-Xy_12";
/// What the attacker's web server serves instead.
pub const ATTACKER_KEY_AUTHORIZATION: &str = "tok-Aa09_-.attacker-key";

/// base64url(SHA-256(key authorization)): the dns-01 TXT value.
pub fn dns01_digest() -> String {
    data_encoding::BASE64URL_NOPAD.encode(&key_authorization_digest(KEY_AUTHORIZATION))
}

/// `example.` with the victim's A (the honest server, 127.0.0.1), a CAA
/// record naming `ca.example`, and its dns-01 TXT.
pub fn zone() -> String {
    format!(
        r#"
$TTL 60
$ORIGIN example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 127.0.0.1
victim A 127.0.0.1
victim CAA 0 issue "ca.example"
_acme-challenge.victim TXT "{}"
"#,
        dns01_digest()
    )
}

/// Both web servers of `world` serve the http-01 challenge: the honest one
/// the key authorization, the attacker's its own.
pub fn serve_challenges(world: &World) -> Result<(), HttpFixtureError> {
    let path = acme_challenge_path(TOKEN);
    world.honest_http.serve_body(&path, KEY_AUTHORIZATION)?;
    world
        .attacker_http
        .serve_body(&path, ATTACKER_KEY_AUTHORIZATION)
}

pub fn caa_check() -> Value {
    json!({"check_type": "caa", "domain_or_ip_target": DOMAIN})
}

pub fn http01_check() -> Value {
    json!({
        "check_type": "dcv",
        "domain_or_ip_target": DOMAIN,
        "dcv_check_parameters": {"validation_method": "acme-http-01", "token": TOKEN, "key_authorization": KEY_AUTHORIZATION},
    })
}

pub fn dns01_check() -> Value {
    json!({
        "check_type": "dcv",
        "domain_or_ip_target": DOMAIN,
        "dcv_check_parameters": {"validation_method": "acme-dns-01", "key_authorization_hash": dns01_digest()},
    })
}

/// acme-tls-alpn-01 for [`DOMAIN`] (RFC 8737), key authorization
/// [`KEY_AUTHORIZATION`].
pub fn tls_alpn01_check() -> Value {
    tls_alpn01_check_for(DOMAIN)
}

/// acme-tls-alpn-01 for `target` (a domain or an IP address).
pub fn tls_alpn01_check_for(target: &str) -> Value {
    json!({
        "check_type": "dcv",
        "domain_or_ip_target": target,
        "dcv_check_parameters": {"validation_method": "acme-tls-alpn-01", "key_authorization": KEY_AUTHORIZATION},
    })
}

/// Both TLS servers of `world` answer acme-tls/1 for [`DOMAIN`]: the honest
/// one with the victim's key authorization, the attacker's with its own.
pub fn serve_tls_alpn(world: &World) -> Result<(), TlsFixtureError> {
    world
        .honest_tls
        .set_behaviour(TlsBehaviour::acme_tls_alpn(TlsAlpnCertificate::valid(
            DOMAIN,
            KEY_AUTHORIZATION,
        )?))?;
    world
        .attacker_tls
        .set_behaviour(TlsBehaviour::acme_tls_alpn(TlsAlpnCertificate::valid(
            DOMAIN,
            ATTACKER_KEY_AUTHORIZATION,
        )?))
}
