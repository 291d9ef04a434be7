//! `acme-tls-alpn-01` certificate rules (RFC 8737 3, RFC 8738 6 for IP
//! addresses): the certificate the server presented for ALPN `acme-tls/1`
//! must have
//! - a subjectAltName extension with exactly one name, a dNSName equal to the
//!   domain (ASCII case-insensitive) or an iPAddress equal to the address;
//! - a critical `id-pe-acmeIdentifier` (1.3.6.1.5.5.7.1.31) extension whose
//!   value is a DER OCTET STRING holding SHA-256(key authorization).
//!
//! [`acme_tls_alpn_01`] performs the exchange through the perspective's
//! [`Network`]: port 443 of the address the perspective's own resolvers give
//! (or of the IP address itself), SNI the domain (for an IP address, its
//! reverse-mapping name, RFC 8738 section 6), exactly one ALPN protocol
//! offered, `acme-tls/1`, TLS 1.2 or later, and the negotiated protocol must
//! be `acme-tls/1` (RFC 8737 section 3). Then [`check_tls_alpn_certificate`]
//! judges the leaf certificate's DER bytes. Chain, signature and validity are
//! deliberately not checked: the certificate is self-signed and ephemeral by
//! design (the handshake signature is, see [`crate::web::tls`]).

use der::Decode;
use der::asn1::{ObjectIdentifier, OctetString};
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::{DcvContext, DcvEvidence, DcvFailure, DcvObservation};
use crate::check::{AcmeTlsAlpn01Parameters, ValidationMethod};
use crate::name::{Target, reverse_name};
use crate::network::{Contacted, HttpError, Network};
use crate::web::{self, tls};

/// The ALPN protocol of acme-tls-alpn-01 (RFC 8737 section 6.2).
pub const ALPN_ACME_TLS_1: &[u8] = b"acme-tls/1";

/// The port acme-tls-alpn-01 connects to (RFC 8737 section 3).
pub const ACME_TLS_PORT: u16 = 443;

/// `id-pe-acmeIdentifier` (RFC 8737 6.1).
pub const ACME_IDENTIFIER_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");
const SUBJECT_ALT_NAME_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// What the certificate showed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateEvidence {
    /// The subject common name, if any (Open MPIC reports it).
    pub common_name: Option<String>,
    /// Every subjectAltName, as `dns:<name>`, `ip:<address>` or `other`.
    pub subject_alt_names: Vec<String>,
    /// Whether the acmeIdentifier extension was marked critical, if present.
    pub acme_identifier_critical: Option<bool>,
    /// Where the handshake went and what it settled; `None` when the
    /// certificate was judged without an exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacted: Option<Contacted>,
}

/// Why the certificate does not prove control.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsAlpnError {
    /// The bytes are not a DER X.509 certificate, or its subjectAltName
    /// extension cannot be decoded.
    #[error("the certificate is not DER X.509: {detail}")]
    Malformed {
        /// The DER decoder's message.
        detail: String,
    },
    /// The target is a wildcard, which RFC 8737 cannot validate.
    #[error("tls-alpn-01 cannot validate a wildcard name")]
    WildcardTarget,
    /// The subjectAltName or acmeIdentifier extension appears twice.
    #[error("extension {oid} appears more than once")]
    DuplicateExtension {
        /// The repeated extension's OID, dotted.
        oid: String,
    },
    /// The certificate has no subjectAltName extension.
    #[error("the certificate has no subjectAltName extension")]
    NoSubjectAltName,
    /// The subjectAltName holds zero or several names.
    #[error("the subjectAltName has {count} names; exactly one is required")]
    SubjectAltNameCount {
        /// How many names it holds.
        count: usize,
    },
    /// The single name is of the wrong kind: not a dNSName for a domain, or
    /// not an iPAddress for an IP address.
    #[error("the subjectAltName is not a {expected}")]
    SubjectAltNameType {
        /// The kind required, `dNSName` or `iPAddress`.
        expected: String,
    },
    /// The single name is not the target.
    #[error("the subjectAltName `{found}` is not the target")]
    SubjectAltNameMismatch {
        /// The name found (a dNSName as written; an address as `ip:<address>`).
        found: String,
    },
    /// The certificate has no `id-pe-acmeIdentifier` extension.
    #[error("the certificate has no acmeIdentifier extension")]
    MissingAcmeIdentifier,
    /// The acmeIdentifier extension is present but not marked critical.
    #[error("the acmeIdentifier extension is not critical")]
    AcmeIdentifierNotCritical,
    /// The acmeIdentifier value is not a DER OCTET STRING of 32 bytes.
    #[error("the acmeIdentifier value is not an OCTET STRING of 32 bytes")]
    AcmeIdentifierMalformed,
    /// The acmeIdentifier holds 32 bytes that are not SHA-256 of the key
    /// authorization.
    #[error("the acmeIdentifier does not hold SHA-256 of the key authorization")]
    DigestMismatch,
    /// The handshake completed without an application protocol: the server
    /// ignored ALPN, so it is not answering the challenge.
    #[error("the server negotiated no application protocol; acme-tls/1 is required")]
    NoApplicationProtocol,
    /// The handshake completed with another application protocol.
    #[error("the server negotiated {protocol:?}; acme-tls/1 is required")]
    WrongApplicationProtocol {
        /// The protocol negotiated (lossy UTF-8).
        protocol: String,
    },
    /// The server presented no certificate.
    #[error("the server presented no certificate")]
    NoCertificate,
}

/// RFC 8737 (and RFC 8738 section 6): the whole acme-tls-alpn-01 exchange
/// for `target`, through `network`, within `context.http_limits.timeout_ms`.
pub async fn acme_tls_alpn_01<N: Network + ?Sized>(
    network: &N,
    target: &Target,
    parameters: &AcmeTlsAlpn01Parameters,
    context: &DcvContext,
) -> DcvObservation {
    let method = ValidationMethod::AcmeTlsAlpn01;
    let fail = |evidence, failure| DcvObservation::new(method, evidence, Some(failure));
    let (host, server_name) = match target {
        Target::Domain { wildcard: true, .. } => {
            return fail(
                DcvEvidence::None,
                DcvFailure::Certificate {
                    detail: TlsAlpnError::WildcardTarget,
                },
            );
        }
        Target::Domain { name, .. } => (
            url::Host::Domain(name.as_str()),
            tls::ServerName::Domain(name.as_str().to_owned()),
        ),
        Target::Ip(ip) => (
            match ip {
                std::net::IpAddr::V4(v4) => url::Host::Ipv4(*v4),
                std::net::IpAddr::V6(v6) => url::Host::Ipv6(*v6),
            },
            tls::ServerName::Domain(reverse_name(*ip)),
        ),
    };
    let timeout_ms = context.http_limits.timeout_ms;
    let exchange = async {
        let (connection, mut contacted) = web::open(network, &host, ACME_TLS_PORT, timeout_ms)
            .await
            .map_err(|detail| (None, DcvFailure::Connection { detail }))?;
        match tls::handshake(connection, &server_name, ALPN_ACME_TLS_1).await {
            Ok((session, facts)) => {
                contacted.tls = Some(facts);
                Ok((contacted, tls::peer_certificates(&session)))
            }
            Err(detail) => Err((Some(contacted), DcvFailure::TlsHandshake { detail })),
        }
    };
    let (contacted, chain) = match web::within(network, timeout_ms, exchange).await {
        Some(Ok(done)) => done,
        Some(Err((contacted, failure))) => {
            let evidence = match contacted {
                Some(contacted) => DcvEvidence::Certificate(CertificateEvidence {
                    contacted: Some(contacted),
                    ..CertificateEvidence::default()
                }),
                None => DcvEvidence::None,
            };
            return fail(evidence, failure);
        }
        None => {
            return fail(
                DcvEvidence::None,
                DcvFailure::Connection {
                    detail: HttpError::Timeout,
                },
            );
        }
    };
    let negotiated = contacted.tls.as_ref().and_then(|tls| tls.alpn.clone());
    let refusal = match negotiated.as_deref() {
        None => Some(TlsAlpnError::NoApplicationProtocol),
        Some(protocol) if protocol.as_bytes() != ALPN_ACME_TLS_1 => {
            Some(TlsAlpnError::WrongApplicationProtocol {
                protocol: protocol.to_owned(),
            })
        }
        Some(_) if chain.is_empty() => Some(TlsAlpnError::NoCertificate),
        Some(_) => None,
    };
    if let Some(detail) = refusal {
        let evidence = CertificateEvidence {
            contacted: Some(contacted),
            ..CertificateEvidence::default()
        };
        return fail(
            DcvEvidence::Certificate(evidence),
            DcvFailure::Certificate { detail },
        );
    }
    let leaf = chain.first().map(Vec::as_slice).unwrap_or_default();
    let mut observation =
        check_tls_alpn_certificate(leaf, target, &parameters.key_authorization_digest);
    if let DcvEvidence::Certificate(evidence) = &mut observation.evidence {
        evidence.contacted = Some(contacted);
    }
    observation
}

/// Judge a certificate received over ALPN `acme-tls/1` for `target`.
///
/// `key_authorization_digest` is SHA-256 of the key authorization
/// ([`crate::check::key_authorization_digest`]), which is what the request
/// carries (`AcmeTlsAlpn01Parameters::key_authorization_digest`).
pub fn check_tls_alpn_certificate(
    der: &[u8],
    target: &Target,
    key_authorization_digest: &[u8; 32],
) -> DcvObservation {
    let mut evidence = CertificateEvidence::default();
    let failure = judge(der, target, key_authorization_digest, &mut evidence)
        .err()
        .map(|detail| DcvFailure::Certificate { detail });
    DcvObservation::new(
        ValidationMethod::AcmeTlsAlpn01,
        DcvEvidence::Certificate(evidence),
        failure,
    )
}

fn judge(
    der: &[u8],
    target: &Target,
    digest: &[u8; 32],
    evidence: &mut CertificateEvidence,
) -> Result<(), TlsAlpnError> {
    if target.is_wildcard() {
        return Err(TlsAlpnError::WildcardTarget);
    }
    let certificate = Certificate::from_der(der).map_err(|e| TlsAlpnError::Malformed {
        detail: e.to_string(),
    })?;
    let tbs = certificate.tbs_certificate();
    evidence.common_name = tbs.subject().common_name().ok().flatten().map(String::from);

    let extensions = tbs.extensions().map(|e| e.as_slice()).unwrap_or_default();
    let single = |oid: ObjectIdentifier| {
        let mut matching = extensions.iter().filter(|e| e.extn_id == oid);
        let first = matching.next();
        if matching.next().is_some() {
            return Err(TlsAlpnError::DuplicateExtension {
                oid: oid.to_string(),
            });
        }
        Ok(first)
    };
    let san = single(SUBJECT_ALT_NAME_OID)?;
    let acme = single(ACME_IDENTIFIER_OID)?;
    evidence.acme_identifier_critical = acme.map(|e| e.critical);

    let san = san.ok_or(TlsAlpnError::NoSubjectAltName)?;
    let names = SubjectAltName::from_der(san.extn_value.as_bytes())
        .map_err(|e| TlsAlpnError::Malformed {
            detail: format!("subjectAltName: {e}"),
        })?
        .0;
    evidence.subject_alt_names = names.iter().map(describe).collect();
    let [name] = names.as_slice() else {
        return Err(TlsAlpnError::SubjectAltNameCount { count: names.len() });
    };
    match (target, name) {
        (Target::Domain { name: domain, .. }, GeneralName::DnsName(dns)) => {
            if !dns.as_str().eq_ignore_ascii_case(domain.as_str()) {
                return Err(TlsAlpnError::SubjectAltNameMismatch {
                    found: dns.as_str().to_owned(),
                });
            }
        }
        (Target::Domain { .. }, _) => {
            return Err(TlsAlpnError::SubjectAltNameType {
                expected: "dNSName".into(),
            });
        }
        (Target::Ip(ip), GeneralName::IpAddress(octets)) => {
            let expected = match ip {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            if octets.as_bytes() != expected.as_slice() {
                return Err(TlsAlpnError::SubjectAltNameMismatch {
                    found: describe(name),
                });
            }
        }
        (Target::Ip(_), _) => {
            return Err(TlsAlpnError::SubjectAltNameType {
                expected: "iPAddress".into(),
            });
        }
    }

    let acme = acme.ok_or(TlsAlpnError::MissingAcmeIdentifier)?;
    if !acme.critical {
        return Err(TlsAlpnError::AcmeIdentifierNotCritical);
    }
    let value = OctetString::from_der(acme.extn_value.as_bytes())
        .map_err(|_| TlsAlpnError::AcmeIdentifierMalformed)?;
    if value.as_bytes().len() != 32 {
        return Err(TlsAlpnError::AcmeIdentifierMalformed);
    }
    if value.as_bytes() != digest.as_slice() {
        return Err(TlsAlpnError::DigestMismatch);
    }
    Ok(())
}

fn describe(name: &GeneralName) -> String {
    match name {
        GeneralName::DnsName(dns) => format!("dns:{}", dns.as_str()),
        GeneralName::IpAddress(octets) => {
            let bytes = octets.as_bytes();
            let ip = <[u8; 4]>::try_from(bytes)
                .map(std::net::IpAddr::from)
                .or_else(|_| <[u8; 16]>::try_from(bytes).map(std::net::IpAddr::from));
            match ip {
                Ok(ip) => format!("ip:{ip}"),
                Err(_) => format!("ip:{}", data_encoding::HEXLOWER.encode(bytes)),
            }
        }
        _ => "other".into(),
    }
}

#[cfg(test)]
mod tests;
