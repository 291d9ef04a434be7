//! TLS over a connection core opened itself, with rustls and the `ring`
//! provider (which builds for wasm32-unknown-unknown): one client for https
//! URLs and for acme-tls-alpn-01.
//!
//! # What is offered
//! TLS 1.3 and 1.2, nothing older; SNI is the host name (for
//! acme-tls-alpn-01 at an IP address, its reverse-mapping name, RFC 8738
//! section 6); exactly one ALPN protocol, the caller's (`http/1.1` or
//! `acme-tls/1`). No session is resumed: every handshake is the server's
//! answer now, not an earlier one.
//!
//! # What is not verified
//! The certificate chain and its names are not verified, as in Boulder and
//! Open MPIC: for an https URL the challenge content proves control, and for
//! acme-tls-alpn-01 the certificate is self-signed by design and judged by
//! RFC 8737's rules instead. The handshake signature *is* verified, so the
//! server holds the key of the certificate it presented. Every session says
//! so ([`TlsSession::certificate_verified`] is `false`).

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls13_signature_with_raw_key};
use rustls::pki_types::{
    CertificateDer, ServerName as PkiServerName, SubjectPublicKeyInfoDer, UnixTime,
};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error,
    PeerIncompatible, PeerMisbehaved, ProtocolVersion, SignatureScheme,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::network::TlsSession;

/// The name a handshake is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerName {
    /// Sent as SNI.
    Domain(String),
    /// An https URL at an IP address: no SNI is sent (RFC 6066 allows only
    /// host names).
    Ip(IpAddr),
}

/// Why a handshake did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum TlsFailure {
    /// The server speaks only a TLS version older than 1.2 (it chose one,
    /// or refused ours with a `protocol_version` alert).
    #[error("the server does not speak TLS 1.2 or 1.3: {0}")]
    ProtocolVersion(String),
    /// The server chose an application protocol we did not offer.
    #[error("the server chose an application protocol that was not offered")]
    UnofferedApplicationProtocol,
    /// The server refused every protocol offered (`no_application_protocol`).
    #[error("the server refused the offered application protocol")]
    ApplicationProtocolRefused,
    /// The server sent something that is not a valid TLS handshake, or an
    /// alert; rustls's message.
    #[error("the TLS handshake failed: {0}")]
    Handshake(String),
    /// The connection broke during the handshake (reset, closed early).
    #[error("the connection failed during the TLS handshake: {0}")]
    ConnectionLost(String),
    /// The name cannot be sent as SNI.
    #[error("{0:?} cannot be a TLS server name")]
    InvalidServerName(String),
}

impl TlsFailure {
    /// The perspective could not look (the connection broke), as opposed
    /// to having reached a server that answered wrongly.
    pub fn is_transport_failure(&self) -> bool {
        matches!(self, TlsFailure::ConnectionLost(_))
    }
}

/// Completes a handshake on `stream` for `server_name`, offering exactly
/// `alpn`, and says what it settled.
pub async fn handshake<S>(
    stream: S,
    server_name: &ServerName,
    alpn: &[u8],
) -> Result<(TlsStream<S>, TlsSession), TlsFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (name, sni) = match server_name {
        ServerName::Domain(name) => (
            PkiServerName::try_from(name.clone())
                .map_err(|_| TlsFailure::InvalidServerName(name.clone()))?,
            Some(name.clone()),
        ),
        ServerName::Ip(ip) => (PkiServerName::IpAddress((*ip).into()), None),
    };
    let connector = TlsConnector::from(config_for(alpn)?);
    let session = connector.connect(name, stream).await.map_err(classify)?;
    let (_, connection) = session.get_ref();
    let version = match connection.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        // The configuration offers no other version; refuse anything else.
        other => return Err(TlsFailure::ProtocolVersion(format!("{other:?}"))),
    };
    let facts = TlsSession {
        version,
        server_name: sni,
        alpn: connection
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        certificate_verified: false,
    };
    Ok((session, facts))
}

/// The server's certificate chain, leaf first, as DER.
pub fn peer_certificates<S>(session: &TlsStream<S>) -> Vec<Vec<u8>> {
    session
        .get_ref()
        .1
        .peer_certificates()
        .map(|chain| chain.iter().map(|der| der.as_ref().to_vec()).collect())
        .unwrap_or_default()
}

fn classify(error: std::io::Error) -> TlsFailure {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
    else {
        return TlsFailure::ConnectionLost(error.to_string());
    };
    match tls {
        Error::PeerIncompatible(
            PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::SupportedVersionsExtensionRequired,
        )
        | Error::AlertReceived(AlertDescription::ProtocolVersion) => {
            TlsFailure::ProtocolVersion(tls.to_string())
        }
        Error::PeerMisbehaved(PeerMisbehaved::SelectedUnofferedApplicationProtocol) => {
            TlsFailure::UnofferedApplicationProtocol
        }
        Error::AlertReceived(AlertDescription::NoApplicationProtocol) => {
            TlsFailure::ApplicationProtocolRefused
        }
        other => TlsFailure::Handshake(other.to_string()),
    }
}

/// One client configuration per ALPN protocol, built once.
fn config_for(alpn: &[u8]) -> Result<Arc<ClientConfig>, TlsFailure> {
    static HTTP: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static ACME: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let cell = match alpn {
        super::ALPN_HTTP_1_1 => &HTTP,
        crate::dcv::ALPN_ACME_TLS_1 => &ACME,
        // Nothing else is offered outside tests; build it each time.
        _ => return build(alpn).map(Arc::new),
    };
    if let Some(config) = cell.get() {
        return Ok(Arc::clone(config));
    }
    let config = Arc::new(build(alpn)?);
    Ok(Arc::clone(cell.get_or_init(|| config)))
}

fn build(alpn: &[u8]) -> Result<ClientConfig, TlsFailure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(SignatureOnly(Arc::clone(&provider)));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsFailure::Handshake(format!("cannot configure TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    config.enable_sni = true;
    Ok(config)
}

/// Accepts any certificate chain (see the module documentation) but checks
/// the handshake's signature with the presented key.
#[derive(Debug)]
struct SignatureOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for SignatureOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &PkiServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        // TLS 1.2 names no single algorithm per scheme: try each candidate,
        // as rustls's `verify_tls12_signature` does.
        let spki = subject_public_key_info(cert)?;
        let key = webpki::RawPublicKeyEntity::try_from(&spki)
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let candidates = self
            .0
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algorithms)| *algorithms)
            .ok_or(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
        candidates
            .iter()
            .find(|algorithm| {
                key.verify_signature(**algorithm, message, dss.signature())
                    .is_ok()
            })
            .map(|_| HandshakeSignatureValid::assertion())
            .ok_or(Error::InvalidCertificate(CertificateError::BadSignature))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature_with_raw_key(
            message,
            &subject_public_key_info(cert)?,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The leaf's public key, as DER, read without judging the rest of the
/// certificate (whose critical extensions webpki would refuse).
fn subject_public_key_info(
    cert: &CertificateDer<'_>,
) -> Result<SubjectPublicKeyInfoDer<'static>, Error> {
    use der::{Decode as _, Encode as _};
    let bad = |_| Error::InvalidCertificate(CertificateError::BadEncoding);
    let parsed = x509_cert::Certificate::from_der(cert.as_ref()).map_err(bad)?;
    let spki = parsed
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(bad)?;
    Ok(SubjectPublicKeyInfoDer::from(spki))
}
