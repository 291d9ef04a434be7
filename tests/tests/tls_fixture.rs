//! The loopback TLS fixture does what each behaviour says, seen from a plain
//! tokio-rustls client that accepts any certificate (the fixture's are
//! self-signed by design) and from reqwest for the https pages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpic_tests::http_fixture::{HttpRule, HttpServer, acme_challenge_path};
use mpic_tests::tls_fixture::{
    ACME_TLS_1, Alpn, GARBAGE, HTTP_1_1, Page, ServerCertificate, TLS10_CIPHER_SUITE,
    TlsAlpnCertificate, TlsBehaviour, TlsFixtureError, TlsServer, key_authorization_digest,
    tls10_server_flight,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{
    AlertDescription, ClientConfig, DigitallySignedStruct, PeerIncompatible, ProtocolVersion,
    SignatureScheme, SupportedProtocolVersion,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use x509_cert::Certificate;
use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

const HOST: &str = "victim.example";
const KEY_AUTHORIZATION: &str = "token.thumbprint";
/// Longest any handshake in these tests may take before the test fails.
const BOUND: Duration = Duration::from_secs(5);
const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

/// Accepts any certificate, but still checks the handshake signature
/// against its key. webpki (behind rustls' own signature helpers) refuses
/// to parse a certificate with a critical extension it does not know, which
/// RFC 8737's is, so the key is taken out with x509-cert instead.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl AcceptAnyCertificate {
    fn check_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let spki = Certificate::from_der(cert)
            .and_then(|c| c.tbs_certificate().subject_public_key_info().to_der())
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        // The same check for TLS 1.2 as for 1.3 with the ECDSA keys the
        // fixture makes (the scheme names the curve in both).
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki),
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.check_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client_config(alpn: &[&[u8]], versions: &[&'static SupportedProtocolVersion]) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// A handshake with `addr`, SNI `sni`, offering `alpn`; the client's own
/// address comes back with the stream.
async fn handshake(
    addr: SocketAddr,
    sni: &str,
    alpn: &[&[u8]],
    versions: &[&'static SupportedProtocolVersion],
) -> io::Result<(TlsStream<TcpStream>, SocketAddr)> {
    let tcp = TcpStream::connect(addr).await?;
    let local = tcp.local_addr()?;
    let connector = TlsConnector::from(Arc::new(client_config(alpn, versions)));
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    let tls = connector.connect(name, tcp).await?;
    Ok((tls, local))
}

/// [`handshake`] offering `acme-tls/1` only, as RFC 8737 wants, failing
/// the test if it takes longer than [`BOUND`].
async fn acme_handshake(addr: SocketAddr) -> io::Result<(TlsStream<TcpStream>, SocketAddr)> {
    tokio::time::timeout(BOUND, handshake(addr, HOST, &[ACME_TLS_1], BOTH))
        .await
        .expect("the handshake ended within the bound")
}

fn rustls_error(err: &io::Error) -> &rustls::Error {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {err:?}"))
}

fn presented(tls: &TlsStream<TcpStream>) -> Vec<u8> {
    let certificates = tls.get_ref().1.peer_certificates().unwrap();
    assert_eq!(certificates.len(), 1);
    certificates[0].to_vec()
}

fn valid_behaviour() -> TlsBehaviour {
    TlsBehaviour::acme_tls_alpn(TlsAlpnCertificate::valid(HOST, KEY_AUTHORIZATION).unwrap())
}

/// What a certificate says, for the checks RFC 8737 makes.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    /// `dns:<name>`, `ip:<bytes>` or `other`.
    sans: Vec<String>,
    /// (critical, value) of the acmeIdentifier extension.
    acme: Option<(bool, Vec<u8>)>,
}

fn read(der: &[u8]) -> Read {
    const ACME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.31");
    const SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
    let certificate = Certificate::from_der(der).unwrap();
    let extensions = certificate
        .tbs_certificate()
        .extensions()
        .map(|e| e.as_slice())
        .unwrap_or_default();
    let sans = extensions
        .iter()
        .find(|e| e.extn_id == SAN)
        .map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).unwrap().0)
        .unwrap_or_default()
        .into_iter()
        .map(|name| match name {
            GeneralName::DnsName(name) => format!("dns:{name}"),
            GeneralName::IpAddress(bytes) => format!("ip:{:?}", bytes.as_bytes()),
            _ => "other".to_owned(),
        })
        .collect();
    let acme = extensions
        .iter()
        .find(|e| e.extn_id == ACME)
        .map(|e| (e.critical, e.extn_value.as_bytes().to_vec()));
    Read { sans, acme }
}

fn digest_octets(key_authorization: &str) -> Vec<u8> {
    OctetString::new(key_authorization_digest(key_authorization).to_vec())
        .unwrap()
        .to_der()
        .unwrap()
}

#[test]
fn certificate_builders_make_what_rfc_8737_asks_with_one_thing_wrong_each() {
    let dns = format!("dns:{HOST}");
    let right = Some((true, digest_octets(KEY_AUTHORIZATION)));
    assert_eq!(
        digest_octets(KEY_AUTHORIZATION).len(),
        34,
        "an OCTET STRING of 32 bytes"
    );

    let valid = TlsAlpnCertificate::valid(HOST, KEY_AUTHORIZATION).unwrap();
    assert_eq!(
        read(valid.der()),
        Read {
            sans: vec![dns.clone()],
            acme: right.clone()
        }
    );
    assert_eq!(
        valid.acme_identifier().map(|e| e.value.clone()),
        Some(digest_octets(KEY_AUTHORIZATION))
    );

    let by_text = TlsAlpnCertificate::valid("192.0.2.1", KEY_AUTHORIZATION).unwrap();
    let by_ip =
        TlsAlpnCertificate::for_ip(IpAddr::from([192, 0, 2, 1]), KEY_AUTHORIZATION).unwrap();
    for certificate in [by_text, by_ip] {
        assert_eq!(
            read(certificate.der()),
            Read {
                sans: vec!["ip:[192, 0, 2, 1]".into()],
                acme: right.clone()
            }
        );
    }
    let v6 = TlsAlpnCertificate::for_ip(Ipv6Addr::LOCALHOST.into(), KEY_AUTHORIZATION).unwrap();
    assert_eq!(
        read(v6.der()).sans,
        vec![format!("ip:{:?}", Ipv6Addr::LOCALHOST.octets())]
    );

    let mismatch = read(
        TlsAlpnCertificate::digest_mismatch(HOST, KEY_AUTHORIZATION)
            .unwrap()
            .der(),
    );
    let (critical, value) = mismatch.acme.unwrap();
    assert!(critical);
    assert_eq!(value.len(), 34);
    assert_ne!(value, digest_octets(KEY_AUTHORIZATION));
    assert_eq!(mismatch.sans, vec![dns.clone()]);

    assert_eq!(
        read(
            TlsAlpnCertificate::non_critical_extension(HOST, KEY_AUTHORIZATION)
                .unwrap()
                .der()
        ),
        Read {
            sans: vec![dns.clone()],
            acme: Some((false, digest_octets(KEY_AUTHORIZATION)))
        }
    );
    assert_eq!(
        read(TlsAlpnCertificate::missing_extension(HOST).unwrap().der()),
        Read {
            sans: vec![dns.clone()],
            acme: None
        }
    );
    assert_eq!(
        read(
            TlsAlpnCertificate::two_sans(HOST, "attacker.example", KEY_AUTHORIZATION)
                .unwrap()
                .der()
        ),
        Read {
            sans: vec![dns.clone(), "dns:attacker.example".into()],
            acme: right.clone()
        }
    );
    assert_eq!(
        read(
            TlsAlpnCertificate::other_name("attacker.example", KEY_AUTHORIZATION)
                .unwrap()
                .der()
        ),
        Read {
            sans: vec!["dns:attacker.example".into()],
            acme: right
        }
    );

    let err = TlsAlpnCertificate::valid("not a name\u{e9}", KEY_AUTHORIZATION).unwrap_err();
    assert!(matches!(err, TlsFixtureError::InvalidName(_)), "{err}");
}

#[tokio::test]
async fn a_valid_certificate_is_presented_over_acme_tls_1_and_the_hello_is_recorded() {
    let certificate = TlsAlpnCertificate::valid(HOST, KEY_AUTHORIZATION).unwrap();
    let server = TlsServer::start(TlsBehaviour::acme_tls_alpn(certificate.clone()))
        .await
        .unwrap();

    let mut clients = Vec::new();
    for (versions, expected) in [
        (BOTH, ProtocolVersion::TLSv1_3),
        (TLS12, ProtocolVersion::TLSv1_2),
    ] {
        let (tls, local) = tokio::time::timeout(
            BOUND,
            handshake(server.addr(), HOST, &[ACME_TLS_1], versions),
        )
        .await
        .unwrap()
        .unwrap();
        let connection = tls.get_ref().1;
        assert_eq!(connection.protocol_version(), Some(expected));
        assert_eq!(connection.alpn_protocol(), Some(ACME_TLS_1));
        assert_eq!(presented(&tls), certificate.der().to_vec());
        clients.push(local);

        // Then the server closes: close_notify, then the end of the stream.
        let mut tls = tls;
        let mut rest = Vec::new();
        let read = tokio::time::timeout(BOUND, tls.read_to_end(&mut rest))
            .await
            .unwrap();
        assert_eq!(read.unwrap(), 0);
    }

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for (hello, client) in seen.iter().zip(clients) {
        assert_eq!(hello.peer, client);
        assert_eq!(hello.local, server.addr());
        assert_eq!(hello.sni.as_deref(), Some(HOST));
        assert_eq!(hello.alpn_offered, vec![ACME_TLS_1.to_vec()]);
        assert_eq!(hello.behaviour, "acme_tls_alpn");
    }
    assert_eq!(server.accepted(), 2);

    // A client offering no ALPN gets the certificate and no protocol.
    let (tls, _) = handshake(server.addr(), HOST, &[], BOTH).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    assert_eq!(server.seen()[2].alpn_offered, Vec::<Vec<u8>>::new());

    // A client offering only another protocol is refused.
    let err = handshake(server.addr(), HOST, &[HTTP_1_1], BOTH)
        .await
        .err()
        .unwrap();
    assert_eq!(
        rustls_error(&err),
        &rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol)
    );
}

#[tokio::test]
async fn alpn_none_negotiates_nothing_and_http11_only_refuses_a_client_offering_acme_tls_1() {
    let certificate = TlsAlpnCertificate::valid(HOST, KEY_AUTHORIZATION).unwrap();
    let server = TlsServer::start(TlsBehaviour::AcmeTlsAlpn {
        certificate: certificate.clone(),
        alpn: Alpn::None,
    })
    .await
    .unwrap();
    let (tls, _) = acme_handshake(server.addr()).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    assert_eq!(presented(&tls), certificate.der().to_vec());

    server
        .set_behaviour(TlsBehaviour::AcmeTlsAlpn {
            certificate,
            alpn: Alpn::Http11Only,
        })
        .unwrap();
    let err = acme_handshake(server.addr()).await.err().unwrap();
    assert_eq!(
        rustls_error(&err),
        &rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol)
    );
    // Offered as well, http/1.1 is what it selects.
    let (tls, _) = handshake(server.addr(), HOST, &[ACME_TLS_1, HTTP_1_1], BOTH)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(HTTP_1_1));

    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[2].alpn_offered,
        vec![ACME_TLS_1.to_vec(), HTTP_1_1.to_vec()]
    );
}

#[tokio::test]
async fn a_tls_1_0_only_server_fails_a_modern_client_on_the_version() {
    let server = TlsServer::start(TlsBehaviour::Tls10Only).await.unwrap();
    for versions in [BOTH, TLS12] {
        let err = tokio::time::timeout(
            BOUND,
            handshake(server.addr(), HOST, &[ACME_TLS_1], versions),
        )
        .await
        .unwrap()
        .err()
        .unwrap();
        assert_eq!(
            rustls_error(&err),
            &rustls::Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13)
        );
    }
    assert_eq!(server.seen().len(), 2);
    assert_eq!(server.seen()[0].sni.as_deref(), Some(HOST));

    // The flight: one handshake record of version 0x0301 holding a
    // ServerHello of version 0x0301, then Certificate and ServerHelloDone.
    let flight = tls10_server_flight(server.addr());
    assert_eq!(&flight[..3], &[22, 3, 1]);
    let record_len = usize::from(u16::from_be_bytes([flight[3], flight[4]]));
    assert_eq!(flight.len(), 5 + record_len);
    let hello = &flight[5..];
    assert_eq!(hello[0], 2, "ServerHello");
    let hello_len = usize::from(hello[2]) << 8 | usize::from(hello[3]);
    assert_eq!(hello_len, 2 + 32 + 1 + 2 + 1, "no extensions");
    assert_eq!(&hello[4..6], &[3, 1]);
    assert_eq!(hello[38], 0, "empty session id");
    assert_eq!(&hello[39..41], &TLS10_CIPHER_SUITE.to_be_bytes());
    assert_eq!(hello[41], 0, "null compression");
    assert_eq!(hello[42], 11, "Certificate");
    assert!(flight.ends_with(&[14, 0, 0, 0]), "ServerHelloDone");
}

#[tokio::test]
async fn garbage_reset_and_hang_each_break_the_handshake_their_own_way() {
    let server = TlsServer::start(TlsBehaviour::Garbage).await.unwrap();
    let err = acme_handshake(server.addr()).await.err().unwrap();
    assert!(
        matches!(rustls_error(&err), rustls::Error::InvalidMessage(_)),
        "{err:?}"
    );
    // The raw bytes are exactly the garbage, then the end of the stream.
    let mut raw = TcpStream::connect(server.addr()).await.unwrap();
    let client_hello = client_hello_bytes();
    tokio::io::AsyncWriteExt::write_all(&mut raw, &client_hello)
        .await
        .unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(BOUND, raw.read_to_end(&mut received))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received, GARBAGE);

    server.set_behaviour(TlsBehaviour::Reset).unwrap();
    let err = acme_handshake(server.addr()).await.err().unwrap();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err:?}");

    server.set_behaviour(TlsBehaviour::Hang).unwrap();
    let started = Instant::now();
    let hung = tokio::time::timeout(
        Duration::from_secs(1),
        handshake(server.addr(), HOST, &[ACME_TLS_1], BOTH),
    )
    .await;
    assert!(hung.is_err(), "the client's own timeout fired");
    assert!(started.elapsed() < Duration::from_secs(2));

    let behaviours: Vec<_> = server.seen().iter().map(|s| s.behaviour).collect();
    assert_eq!(behaviours, ["garbage", "garbage", "reset", "hang"]);
    assert!(server.seen().iter().all(|s| s.sni.as_deref() == Some(HOST)));
}

/// The bytes of a rustls ClientHello for [`HOST`] offering `acme-tls/1`.
fn client_hello_bytes() -> Vec<u8> {
    let config = Arc::new(client_config(&[ACME_TLS_1], BOTH));
    let mut connection =
        rustls::ClientConnection::new(config, ServerName::try_from(HOST).unwrap()).unwrap();
    let mut bytes = Vec::new();
    connection.write_tls(&mut bytes).unwrap();
    bytes
}

#[tokio::test]
async fn a_drip_is_a_valid_handshake_one_byte_at_a_time() {
    let certificate = TlsAlpnCertificate::valid(HOST, KEY_AUTHORIZATION).unwrap();
    // No pause: a byte per write, and the handshake still completes.
    let server = TlsServer::start(TlsBehaviour::Drip {
        certificate: certificate.clone(),
        interval: Duration::ZERO,
    })
    .await
    .unwrap();
    let (tls, _) = acme_handshake(server.addr()).await.unwrap();
    assert_eq!(presented(&tls), certificate.der().to_vec());
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(ACME_TLS_1));

    // 50 ms a byte: a kilobyte flight outlasts a half-second client.
    server
        .set_behaviour(TlsBehaviour::Drip {
            certificate,
            interval: Duration::from_millis(50),
        })
        .unwrap();
    let dripped = tokio::time::timeout(
        Duration::from_millis(500),
        handshake(server.addr(), HOST, &[ACME_TLS_1], BOTH),
    )
    .await;
    assert!(dripped.is_err(), "the handshake finished in time");

    // On the wire: a TLS handshake record, arriving a byte at a time.
    let mut raw = TcpStream::connect(server.addr()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut raw, &client_hello_bytes())
        .await
        .unwrap();
    let mut head = [0u8; 3];
    let started = Instant::now();
    tokio::time::timeout(BOUND, raw.read_exact(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head, [22, 3, 3]);
    assert!(started.elapsed() >= Duration::from_millis(90));
}

#[tokio::test]
async fn https_pages_serve_a_body_over_tls_and_record_the_host() {
    let token_path = acme_challenge_path("tok");
    let tls = TlsServer::start(
        TlsBehaviour::https_pages(
            HOST,
            [
                (token_path.clone(), Page::body("tok.thumbprint")),
                ("/moved".to_owned(), Page::redirect(302, token_path.clone())),
            ],
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .resolve(HOST, tls.addr())
        .build()
        .unwrap();

    let response = client
        .get(tls.url_for_host(HOST, "/moved"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "tok.thumbprint");
    let missing = client
        .get(tls.url_for_host(HOST, "/nothing?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let host = format!("{HOST}:{}", tls.port());
    let requests = tls.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/moved", token_path.as_str(), "/nothing"]);
    assert!(
        requests
            .iter()
            .all(|r| r.host.as_deref() == Some(host.as_str()) && r.method == "GET")
    );
    assert_eq!(requests[2].query.as_deref(), Some("x=1"));
    let hello = &tls.seen()[0];
    assert_eq!(hello.sni.as_deref(), Some(HOST));
    assert!(hello.alpn_offered.contains(&HTTP_1_1.to_vec()));
    assert_eq!(hello.behaviour, "https_pages");

    // An http-01 redirect to https lands here and gets the challenge body.
    let http = HttpServer::start().await.unwrap();
    http.set_rule(
        &token_path,
        HttpRule::redirect(302, tls.url_for_host(HOST, &token_path)),
    )
    .unwrap();
    tls.reset_seen();
    let followed = client
        .get(http.url_for_host(HOST, &token_path))
        .send()
        .await
        .unwrap();
    assert_eq!(followed.url().scheme(), "https");
    assert_eq!(followed.text().await.unwrap(), "tok.thumbprint");
    assert_eq!(tls.requests().len(), 1);
    assert_eq!(tls.requests()[0].path, token_path);
}

#[tokio::test]
async fn ipv6_loopback_works() {
    let server = TlsServer::start_on(Ipv6Addr::LOCALHOST, 0, valid_behaviour())
        .await
        .unwrap();
    assert!(server.url("/").starts_with("https://[::1]:"));
    let (tls, local) = acme_handshake(server.addr()).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(ACME_TLS_1));
    let seen = server.seen();
    assert_eq!(seen[0].peer, local);
    assert_eq!(seen[0].local.ip(), IpAddr::from(Ipv6Addr::LOCALHOST));
}

#[tokio::test]
async fn a_group_on_two_loopback_addresses_shares_one_port_and_each_serves_its_own() {
    let honest_ip = IpAddr::from(Ipv4Addr::LOCALHOST);
    let attacker_ip = IpAddr::from([127, 0, 0, 2]);
    let servers = TlsServer::start_group(&[honest_ip, attacker_ip], valid_behaviour())
        .await
        .unwrap();
    let [honest, attacker] = servers.as_slice() else {
        panic!("two servers");
    };
    assert_eq!(honest.port(), attacker.port());
    assert_eq!(attacker.addr().ip(), attacker_ip);

    let forged = TlsAlpnCertificate::digest_mismatch(HOST, KEY_AUTHORIZATION).unwrap();
    attacker
        .set_behaviour(TlsBehaviour::acme_tls_alpn(forged.clone()))
        .unwrap();
    let (tls, _) = acme_handshake(attacker.addr()).await.unwrap();
    assert_eq!(presented(&tls), forged.der().to_vec());
    let (tls, _) = acme_handshake(honest.addr()).await.unwrap();
    assert_ne!(presented(&tls), forged.der().to_vec());

    assert_eq!(honest.seen().len(), 1);
    assert_eq!(attacker.seen().len(), 1);
    assert_eq!(attacker.seen()[0].local, attacker.addr());
}

#[tokio::test]
async fn refuses_non_loopback_addresses_and_pages_it_cannot_serve() {
    for ip in [
        IpAddr::from(Ipv4Addr::UNSPECIFIED),
        IpAddr::from([192, 0, 2, 1]),
        IpAddr::from(Ipv6Addr::UNSPECIFIED),
    ] {
        let err = TlsServer::start_on(ip, 0, TlsBehaviour::Reset)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, TlsFixtureError::NotLoopback(_)), "{err}");
    }
    let server = TlsServer::start(TlsBehaviour::Reset).await.unwrap();
    for (path, page, bad) in [
        ("relative", Page::body("x"), "path"),
        ("/", Page::redirect(99, "/"), "status"),
        ("/", Page::redirect(302, "/\nx"), "header"),
    ] {
        let err = server
            .set_behaviour(TlsBehaviour::https_pages(HOST, [(path, page)]).unwrap())
            .unwrap_err();
        let matched = match bad {
            "path" => matches!(err, TlsFixtureError::BadPath(_)),
            "status" => matches!(err, TlsFixtureError::InvalidStatus(99)),
            _ => matches!(err, TlsFixtureError::InvalidHeader(_)),
        };
        assert!(matched, "{bad}: {err}");
    }
    assert_eq!(server.behaviour().name(), "reset", "unchanged");
    // A certificate for an IP address serves https too.
    let certificate = ServerCertificate::self_signed("127.0.0.1").unwrap();
    assert!(!certificate.der().is_empty());
}

#[tokio::test]
async fn dropping_the_server_closes_its_port_and_its_hung_connections() {
    let server = TlsServer::start(TlsBehaviour::Hang).await.unwrap();
    let addr = server.addr();
    let pending = tokio::spawn(handshake(addr, HOST, &[ACME_TLS_1], BOTH));
    let recorded = tokio::time::timeout(BOUND, async {
        while server.seen().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(recorded.is_ok(), "the hello was recorded");
    assert!(!pending.is_finished());

    drop(server);
    let ended = tokio::time::timeout(BOUND, pending)
        .await
        .expect("dropping the server ends its connections")
        .unwrap();
    assert!(ended.is_err(), "no handshake with a dropped server");
    let closed = tokio::time::timeout(BOUND, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "port still open");
}
