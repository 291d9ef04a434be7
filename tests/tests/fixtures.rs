//! The loopback fixtures behave: the DoH server answers as a validating
//! resolver would (and misbehaves exactly as told, per view), and the HTTP
//! server serves what each rule says. Queried through mpic-core's own DoH
//! client and a `Network` built on the fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use mpic_core::caa::{CaaOutcome, CaaRequest, ForbidReason, PermitReason};
use mpic_core::check::CertificateType;
use mpic_core::dns::{caa_raw, ip_addr, txt_string};
use mpic_core::doh::DohMethod;
use mpic_core::network::{DnsAnswer, DnsError, HttpError, HttpLimits, Network, RequestHeaders};
use mpic_tests::dns_fixture::{DnsFixtureError, DnsWorld, DohServer, Fault};
use mpic_tests::doh_client::{loopback_doh_client, loopback_doh_client_with_timeout};
use mpic_tests::http_fixture::{HttpFixtureError, HttpRule, HttpServer, acme_challenge_path};
use mpic_tests::loopback_network::LoopbackNetwork;

const METHODS: [DohMethod; 2] = [DohMethod::Get, DohMethod::Post];

/// A signed root and `example.`; `victim.example` is an insecure
/// delegation (no DS in the signed parent); `secure.example` is signed.
const ZONES: &str = r#"
$TTL 300
$ORIGIN .
@ SOA a.root.test. hostmaster.test. 1 7200 3600 1209600 300
example. DS 4242 13 2 0123456789ABCDEF0123456789ABCDEF
$ORIGIN example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 127.0.0.1
victim NS ns.victim
secure DS 31337 13 2 ( FEDCBA9876543210
                       FEDCBA9876543210 )
$ORIGIN victim.example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
@ A 127.0.0.1
@ CAA 0 issue "ca.example"
@ TXT "v=spf1 -all"
ns A 127.0.0.1
www CNAME alias
alias CNAME @
loop1 CNAME loop2
loop2 CNAME loop1
_acme-challenge TXT "honest-token"
a.b TXT "deep"
old DNAME new.victim.example.
www.new A 127.0.0.7
$ORIGIN secure.example.
@ SOA ns.victim.example. hostmaster 1 7200 3600 1209600 300
@ NS ns.victim.example.
@ CAA 0 issue "ca.example"
@ A 127.0.0.1
"#;

fn world() -> DnsWorld {
    DnsWorld::from_zone_text(ZONES)
        .unwrap()
        .signed(".")
        .unwrap()
        .signed("example")
        .unwrap()
        .signed("secure.example")
        .unwrap()
}

async fn ask(
    url: &str,
    method: DohMethod,
    name: &str,
    rtype: RecordType,
) -> Result<DnsAnswer, DnsError> {
    loopback_doh_client(url, method)
        .unwrap()
        .query(name, rtype)
        .await
}

fn addresses(answer: &DnsAnswer) -> Vec<String> {
    answer
        .records
        .iter()
        .filter_map(ip_addr)
        .map(|ip| ip.to_string())
        .collect()
}

#[tokio::test]
async fn answers_a_txt_caa_with_get_and_post() {
    let server = DohServer::start(world()).await.unwrap();
    let url = server.url_for("default");
    for method in METHODS {
        let a = ask(&url, method, "victim.example", RecordType::A)
            .await
            .unwrap();
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert_eq!(addresses(&a), ["127.0.0.1"], "{method:?}");
        assert_eq!(a.resolver, url);

        let txt = ask(
            &url,
            method,
            "_acme-challenge.victim.example",
            RecordType::TXT,
        )
        .await
        .unwrap();
        let texts: Vec<String> = txt.records.iter().filter_map(txt_string).collect();
        assert_eq!(texts, ["honest-token"], "{method:?}");

        let caa = ask(&url, method, "Victim.Example.", RecordType::CAA)
            .await
            .unwrap();
        let caa: Vec<_> = caa.records.iter().filter_map(caa_raw).collect();
        assert_eq!(caa, [(0, "issue".to_owned(), b"ca.example".to_vec())]);
    }
    let view = server.default_view();
    assert_eq!(view.query_count("victim.example.", RecordType::A), 2);
    assert_eq!(view.query_count("VICTIM.example", RecordType::CAA), 2);
    assert_eq!(view.query_count("victim.example", RecordType::AAAA), 0);
    assert_eq!(view.total_queries(), 6);
}

#[tokio::test]
async fn cname_chain_dname_nxdomain_nodata() {
    let server = DohServer::start(world()).await.unwrap();
    let url = server.url_for("default");
    for method in METHODS {
        let chained = ask(&url, method, "www.victim.example", RecordType::A)
            .await
            .unwrap();
        assert_eq!(
            chained.cname_chain,
            ["alias.victim.example", "victim.example"]
        );
        assert_eq!(addresses(&chained), ["127.0.0.1"]);

        let synthesised = ask(&url, method, "www.old.victim.example", RecordType::A)
            .await
            .unwrap();
        assert_eq!(synthesised.cname_chain, ["www.new.victim.example"]);
        assert_eq!(addresses(&synthesised), ["127.0.0.7"]);

        let cases = [
            (
                "nothing.victim.example",
                RecordType::A,
                ResponseCode::NXDomain,
            ),
            ("victim.example", RecordType::AAAA, ResponseCode::NoError),
            // Empty non-terminal: NODATA, not NXDOMAIN.
            ("b.victim.example", RecordType::TXT, ResponseCode::NoError),
            ("elsewhere.test", RecordType::A, ResponseCode::NXDomain),
        ];
        for (name, rtype, rcode) in cases {
            let answer = ask(&url, method, name, rtype).await.unwrap();
            assert_eq!(answer.rcode, rcode, "{method:?} {name} {rtype}");
            assert!(answer.records.is_empty(), "{name}");
            assert!(answer.cname_chain.is_empty(), "{name}");
        }
    }
}

#[tokio::test]
async fn cname_loop_is_a_limit_error() {
    let server = DohServer::start(world()).await.unwrap();
    let url = server.url_for("default");
    for method in METHODS {
        let err = ask(&url, method, "loop1.victim.example", RecordType::A)
            .await
            .unwrap_err();
        assert!(matches!(err, DnsError::LimitExceeded(_)), "{err:?}");
    }
}

#[tokio::test]
async fn ad_flag_follows_zone_security_and_ds_sits_in_the_parent() {
    let server = DohServer::start(world()).await.unwrap();
    let url = server.url_for("default");
    // (name, type, rcode, records, AD)
    let cases = [
        (
            "secure.example",
            RecordType::A,
            ResponseCode::NoError,
            1,
            true,
        ),
        (
            "victim.example",
            RecordType::A,
            ResponseCode::NoError,
            1,
            false,
        ),
        (
            "nothing.secure.example",
            RecordType::A,
            ResponseCode::NXDomain,
            0,
            true,
        ),
        // Delegation proofs: a signed DS, an authenticated DS denial, and
        // the insecure child's own NS set.
        (
            "secure.example",
            RecordType::DS,
            ResponseCode::NoError,
            1,
            true,
        ),
        ("example", RecordType::DS, ResponseCode::NoError, 1, true),
        (
            "victim.example",
            RecordType::DS,
            ResponseCode::NoError,
            0,
            true,
        ),
        (
            "victim.example",
            RecordType::NS,
            ResponseCode::NoError,
            1,
            false,
        ),
    ];
    for method in METHODS {
        for (name, rtype, rcode, count, ad) in cases {
            let answer = ask(&url, method, name, rtype).await.unwrap();
            let what = format!("{method:?} {name} {rtype}");
            assert_eq!(answer.rcode, rcode, "{what}");
            assert_eq!(answer.records.len(), count, "{what}");
            assert_eq!(answer.authentic_data, ad, "{what}");
        }
    }
    let liar = server.view("liar");
    liar.force_authentic_data("victim.example", Some(true))
        .unwrap();
    let answer = ask(
        &server.url_for("liar"),
        DohMethod::Post,
        "victim.example",
        RecordType::A,
    )
    .await
    .unwrap();
    assert!(answer.authentic_data);
}

#[tokio::test]
async fn poisoned_view_and_honest_view_disagree() {
    let server = DohServer::start(world()).await.unwrap();
    let honest = server.url_for("honest");
    let hijacked = server.view("hijacked");
    hijacked
        .override_text(
            "$TTL 60\n\
             victim.example. A 127.0.0.2\n\
             victim.example. CAA 0 issue \"evil.example\"\n\
             _acme-challenge.victim.example. TXT \"attacker-token\"",
        )
        .unwrap();
    let hijacked_url = server.url_for("hijacked");

    let a = ask(&honest, DohMethod::Post, "victim.example", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addresses(&a), ["127.0.0.1"]);
    let a = ask(
        &hijacked_url,
        DohMethod::Post,
        "victim.example",
        RecordType::A,
    )
    .await
    .unwrap();
    assert_eq!(addresses(&a), ["127.0.0.2"]);
    // Aliases reach the poisoned RRset too.
    let a = ask(
        &hijacked_url,
        DohMethod::Get,
        "www.victim.example",
        RecordType::A,
    )
    .await
    .unwrap();
    assert_eq!(addresses(&a), ["127.0.0.2"]);
    let caa = ask(
        &hijacked_url,
        DohMethod::Get,
        "victim.example",
        RecordType::CAA,
    )
    .await
    .unwrap();
    assert_eq!(caa_raw(&caa.records[0]).unwrap().2, b"evil.example");
    let txt = ask(
        &hijacked_url,
        DohMethod::Get,
        "_acme-challenge.victim.example",
        RecordType::TXT,
    )
    .await
    .unwrap();
    assert_eq!(txt_string(&txt.records[0]).unwrap(), "attacker-token");

    // Stripping the CAA RRset in a view turns it into NODATA there only.
    let stripped = server.view("stripped");
    stripped
        .remove_rrset("victim.example", RecordType::CAA)
        .unwrap();
    let caa = ask(
        &server.url_for("stripped"),
        DohMethod::Post,
        "victim.example",
        RecordType::CAA,
    )
    .await
    .unwrap();
    assert_eq!((caa.rcode, caa.records.len()), (ResponseCode::NoError, 0));
    let caa = ask(&honest, DohMethod::Post, "victim.example", RecordType::CAA)
        .await
        .unwrap();
    assert_eq!(caa.records.len(), 1);

    // Each view counts its own questions.
    assert_eq!(server.view("honest").total_queries(), 2);
    assert_eq!(hijacked.total_queries(), 4);
    assert_eq!(server.default_view().total_queries(), 0);

    hijacked.clear_overrides();
    let a = ask(
        &hijacked_url,
        DohMethod::Post,
        "victim.example",
        RecordType::A,
    )
    .await
    .unwrap();
    assert_eq!(addresses(&a), ["127.0.0.1"]);
}

#[tokio::test]
async fn rcode_faults_apply_per_view_and_along_chains() {
    let server = DohServer::start(world()).await.unwrap();
    let broken = server.view("broken");
    broken.servfail("victim.example").unwrap();
    broken.refused("secure.example").unwrap();
    broken
        .set_fault(
            "ns.victim.example",
            Some(RecordType::A),
            Fault::Rcode(ResponseCode::NXDomain),
        )
        .unwrap();
    let url = server.url_for("broken");
    let cases = [
        ("victim.example", RecordType::CAA, ResponseCode::ServFail),
        // The chain reaches the failing name.
        ("www.victim.example", RecordType::A, ResponseCode::ServFail),
        ("secure.example", RecordType::A, ResponseCode::Refused),
        ("ns.victim.example", RecordType::A, ResponseCode::NXDomain),
        ("ns.victim.example", RecordType::TXT, ResponseCode::NoError),
    ];
    for method in METHODS {
        for (name, rtype, rcode) in cases {
            let answer = ask(&url, method, name, rtype).await.unwrap();
            assert_eq!(answer.rcode, rcode, "{method:?} {name} {rtype}");
            assert!(!answer.authentic_data || rcode == ResponseCode::NoError);
        }
    }
    let fine = ask(
        &server.url_for("default"),
        DohMethod::Post,
        "victim.example",
        RecordType::CAA,
    )
    .await
    .unwrap();
    assert_eq!(fine.rcode, ResponseCode::NoError);
}

#[tokio::test]
async fn transport_faults() {
    let server = DohServer::start(world()).await.unwrap();
    let view = server.view("faulty");
    view.truncated("victim.example").unwrap();
    view.malformed("secure.example").unwrap();
    view.http_status("ns.victim.example", 500).unwrap();
    view.timeout("ns.example").unwrap();
    view.delay("alias.victim.example", Duration::from_millis(300))
        .unwrap();
    assert_eq!(
        view.http_status("x.example", 1000),
        Err(DnsFixtureError::InvalidStatus(1000))
    );
    let url = server.url_for("faulty");
    for method in METHODS {
        let client = loopback_doh_client_with_timeout(&url, method, 1_500).unwrap();

        let err = client
            .query("victim.example", RecordType::A)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DnsError::Malformed(ref m) if m.contains("TC")),
            "{err:?}"
        );
        let err = client
            .query("secure.example", RecordType::A)
            .await
            .unwrap_err();
        assert!(matches!(err, DnsError::Malformed(_)), "{err:?}");
        let err = client
            .query("ns.victim.example", RecordType::A)
            .await
            .unwrap_err();
        assert_eq!(err, DnsError::HttpStatus(500));

        let started = Instant::now();
        let err = client.query("ns.example", RecordType::A).await.unwrap_err();
        assert_eq!(err, DnsError::Timeout);
        assert!(started.elapsed() < Duration::from_secs(5));

        let started = Instant::now();
        let late = client
            .query("alias.victim.example", RecordType::A)
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(addresses(&late), ["127.0.0.1"]);
    }
    // A held request does not keep the server from stopping.
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Answers to another request (another message ID, another question), a
/// dripped answer and one longer than any DNS message: each refused by the
/// core's DoH client for what it is, never taken as the honest answer it
/// carries.
#[tokio::test]
async fn answers_for_another_request_dripped_and_oversized_answers() {
    let server = DohServer::start(world()).await.unwrap();
    let view = server.view("lying");
    view.wrong_id("victim.example").unwrap();
    view.other_question("ns.victim.example", "victim.example")
        .unwrap();
    view.oversized("secure.example").unwrap();
    view.drip("alias.victim.example", Duration::from_millis(100))
        .unwrap();
    assert!(matches!(
        view.other_question("x.example", "not a name!"),
        Err(DnsFixtureError::InvalidName { .. })
    ));
    let url = server.url_for("lying");
    for method in METHODS {
        let client = loopback_doh_client_with_timeout(&url, method, 1_000).unwrap();

        let err = client
            .query("victim.example", RecordType::A)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DnsError::Mismatch(ref m) if m.contains("response id")),
            "{method:?} wrong id: {err:?}"
        );
        let err = client
            .query("ns.victim.example", RecordType::A)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DnsError::Mismatch(ref m) if m.contains("question is victim.example.")),
            "{method:?} other question: {err:?}"
        );
        let err = client
            .query("secure.example", RecordType::A)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DnsError::LimitExceeded(_)),
            "{method:?} oversized: {err:?}"
        );
        // Some 60 bytes at 100 ms each: past the 1 s deadline.
        let err = client
            .query("alias.victim.example", RecordType::A)
            .await
            .unwrap_err();
        assert_eq!(err, DnsError::Timeout, "{method:?} dripped");
    }
    // The same faults, untouched by another view.
    let honest = ask(
        &server.url_for("honest"),
        DohMethod::Post,
        "victim.example",
        RecordType::A,
    )
    .await
    .unwrap();
    assert_eq!(addresses(&honest), ["127.0.0.1"]);

    // A patient client gets the whole dripped answer, intact.
    let patient = loopback_doh_client_with_timeout(&url, DohMethod::Post, 30_000).unwrap();
    view.drip("alias.victim.example", Duration::from_millis(5))
        .unwrap();
    let slow = patient
        .query("alias.victim.example", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addresses(&slow), ["127.0.0.1"]);
    // A dripping answer does not keep the server from stopping.
    view.drip("alias.victim.example", Duration::from_secs(1))
        .unwrap();
    let pending =
        tokio::spawn(async move { patient.query("alias.victim.example", RecordType::A).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(pending.await.unwrap().is_err(), "a cut drip is no answer");
}

#[tokio::test]
async fn huge_caa_rrset() {
    let mut text = String::from(
        "$ORIGIN big.example.\n$TTL 300\n@ SOA ns.example. hostmaster.example. 1 1 1 1 1\n",
    );
    for i in 0..1200 {
        text.push_str(&format!("@ CAA 0 issue \"ca{i}.example\"\n"));
    }
    let world = world().with_zone_text(&text).unwrap();
    let server = DohServer::start(world).await.unwrap();
    let url = server.url_for("default");
    for method in METHODS {
        let answer = ask(&url, method, "big.example", RecordType::CAA)
            .await
            .unwrap();
        assert_eq!(answer.records.len(), 1200, "{method:?}");
        let mut values: Vec<Vec<u8>> = answer
            .records
            .iter()
            .map(|r| caa_raw(r).unwrap().2)
            .collect();
        values.sort();
        values.dedup();
        assert_eq!(values.len(), 1200);
    }
}

#[tokio::test]
async fn bad_requests_and_unknown_views() {
    let server = DohServer::start(world()).await.unwrap();
    let base = format!("http://{}", server.addr());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let status = |response: reqwest::Response| response.status().as_u16();
    let cases = [
        (client.get(format!("{base}/dns-query?dns=AAAB")), 400),
        (client.get(format!("{base}/dns-query?dns=%%%")), 400),
        (client.get(format!("{base}/dns-query")), 400),
        (
            client
                .post(format!("{base}/dns-query"))
                .header("content-type", "text/plain")
                .body("hello"),
            415,
        ),
        (client.get(format!("{base}/dns-query/nobody?dns=AAAB")), 404),
        (client.get(format!("{base}/elsewhere")), 404),
    ];
    for (request, want) in cases {
        assert_eq!(status(request.send().await.unwrap()), want);
    }
    assert_eq!(server.default_view().total_queries(), 0);
    // Views are created on demand, and their names are escaped in URLs.
    let url = server.url_for("with space/slash");
    assert!(url.ends_with("/dns-query/with%20space%2Fslash"), "{url}");
    let answer = ask(&url, DohMethod::Get, "victim.example", RecordType::A)
        .await
        .unwrap();
    assert_eq!(addresses(&answer), ["127.0.0.1"]);
    assert_eq!(server.view("with space/slash").total_queries(), 1);
}

#[tokio::test]
async fn caa_check_through_the_fixture_views() {
    let server = DohServer::start(world()).await.unwrap();
    server
        .view("stripped")
        .remove_rrset("victim.example", RecordType::CAA)
        .unwrap();
    let failing = server.view("failing");
    failing
        .set_fault(
            "victim.example",
            Some(RecordType::CAA),
            Fault::Rcode(ResponseCode::ServFail),
        )
        .unwrap();
    let request = CaaRequest {
        domain: "victim.example".into(),
        certificate_type: CertificateType::TlsServer,
        issuer_domain_names: vec!["other-ca.example".into()],
        account_uri: None,
        validation_method: None,
        allow_lookup_failure: true,
    };
    let check = |view: &str| {
        let network = LoopbackNetwork::new(&server.url_for(view)).unwrap();
        let request = request.clone();
        async move {
            mpic_core::caa::check(&network, &request)
                .await
                .unwrap()
                .outcome
        }
    };
    // Honest: the domain's CAA names another CA.
    assert!(matches!(
        check("honest").await,
        CaaOutcome::Forbidden {
            reason: ForbidReason::NotAuthorised { .. }
        }
    ));
    // An attacker who strips the record makes this view permit.
    assert!(matches!(
        check("stripped").await,
        CaaOutcome::Permitted {
            reason: PermitReason::NoCaaRecords
        }
    ));
    // SERVFAIL twice under an insecure delegation (proven with DS and NS
    // answers from the signed parent) may count as permission.
    let outcome = check("failing").await;
    assert!(
        matches!(outcome, CaaOutcome::LookupFailurePermitted { .. }),
        "{outcome:?}"
    );
    assert_eq!(failing.query_count("victim.example", RecordType::CAA), 2);
    assert_eq!(failing.query_count("victim.example", RecordType::DS), 1);
    assert_eq!(failing.query_count("victim.example", RecordType::NS), 1);
}

// --- HTTP fixture ---

#[tokio::test]
async fn http_rules() {
    let server = HttpServer::start().await.unwrap();
    let token = acme_challenge_path("tok");
    server.serve_body(&token, "tok.thumbprint").unwrap();
    server.set_rule("/gone", HttpRule::status(410)).unwrap();
    server
        .set_rule("/moved", HttpRule::redirect(301, server.url(&token)))
        .unwrap();
    server
        .set_rule("/bad-port", HttpRule::redirect(302, "http://127.0.0.1:1/x"))
        .unwrap();
    server
        .set_rule("/loop-a", HttpRule::redirect(307, "/loop-b"))
        .unwrap();
    server
        .set_rule("/loop-b", HttpRule::redirect(308, "/loop-a"))
        .unwrap();
    server
        .set_rule("/huge", HttpRule::Huge { len: 10 << 20 })
        .unwrap();
    let rejected = [
        (HttpRule::status(42), HttpFixtureError::InvalidStatus(42)),
        (
            HttpRule::redirect(302, "bad\nlocation"),
            HttpFixtureError::InvalidHeader("bad\nlocation".into()),
        ),
        (
            HttpRule::Huge { len: 2 << 30 },
            HttpFixtureError::TooBig(2 << 30),
        ),
        (
            HttpRule::Slow {
                body: vec![0; 10],
                chunk_bytes: 1,
                interval: Duration::from_secs(60),
            },
            HttpFixtureError::TooSlow(Duration::from_secs(540)),
        ),
    ];
    for (rule, want) in rejected {
        assert_eq!(server.set_rule("/x", rule), Err(want));
    }
    assert_eq!(
        server.serve_body("relative", "x"),
        Err(HttpFixtureError::BadPath("relative".into()))
    );

    // IP-literal URLs: the resolver is never asked.
    let network = LoopbackNetwork::new("http://127.0.0.1:1/dns-query").unwrap();
    let limits = HttpLimits::default();
    let get = |path: &str| {
        let url = url::Url::parse(&server.url(path)).unwrap();
        let network = network.clone();
        async move {
            network
                .http_get(&url, &RequestHeaders::new(), &limits)
                .await
                .unwrap()
        }
    };

    let body = get(&token).await;
    assert_eq!(
        (body.status, body.body.as_slice()),
        (200, &b"tok.thumbprint"[..])
    );
    assert_eq!(body.content_type.as_deref(), Some("text/plain"));
    assert_eq!(get("/gone").await.status, 410);
    assert_eq!(get("/nothing-here").await.status, 404);
    for (path, status, location) in [
        ("/moved", 301, server.url(&token)),
        ("/bad-port", 302, "http://127.0.0.1:1/x".to_owned()),
        ("/loop-a", 307, "/loop-b".to_owned()),
        ("/loop-b", 308, "/loop-a".to_owned()),
    ] {
        let response = get(path).await;
        assert_eq!(response.status, status, "{path}");
        assert_eq!(response.location.as_deref(), Some(location.as_str()));
        assert!(response.body.is_empty());
    }
    // Redirects are not followed: the target was fetched once, directly.
    assert_eq!(server.request_count(&token), 1);

    let huge = get("/huge").await;
    assert_eq!(huge.status, 200);
    assert!(huge.body_truncated);
    assert_eq!(huge.body.len(), limits.max_body_bytes);
    assert_eq!(server.request_count("/huge"), 1);

    // Read whole, the huge body is exactly what was asked.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let whole = client
        .get(server.url("/huge"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(whole.len(), 10 << 20);
    assert_eq!(server.total_requests(), 9);
    let log = server.requests();
    assert_eq!(log[0].path, token);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].host.as_deref(), Some(&*server.addr().to_string()));
}

#[tokio::test]
async fn slow_and_hanging_bodies_hit_the_client_deadline() {
    let server = HttpServer::start().await.unwrap();
    server
        .set_rule(
            "/slow",
            HttpRule::Slow {
                body: b"0123456789".to_vec(),
                chunk_bytes: 2,
                interval: Duration::from_millis(400),
            },
        )
        .unwrap();
    server.set_rule("/hang", HttpRule::Hang).unwrap();
    let network = LoopbackNetwork::new("http://127.0.0.1:1/dns-query").unwrap();
    let url = |path: &str| url::Url::parse(&server.url(path)).unwrap();

    let patient = HttpLimits {
        max_body_bytes: 1024,
        timeout_ms: 10_000,
    };
    let started = Instant::now();
    let slow = network
        .http_get(&url("/slow"), &RequestHeaders::new(), &patient)
        .await
        .unwrap();
    assert_eq!(slow.body, b"0123456789");
    assert!(started.elapsed() >= Duration::from_millis(1600));

    let hasty = HttpLimits {
        max_body_bytes: 1024,
        timeout_ms: 500,
    };
    for path in ["/slow", "/hang"] {
        let started = Instant::now();
        let err = network
            .http_get(&url(path), &RequestHeaders::new(), &hasty)
            .await
            .unwrap_err();
        assert_eq!(err, HttpError::Timeout, "{path}");
        assert!(started.elapsed() < Duration::from_secs(3), "{path}");
    }
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// The hijack the demo shows: one URL, two perspectives, two servers.
#[tokio::test]
async fn a_hijacked_view_reaches_the_attackers_server() {
    let servers =
        HttpServer::start_group(&[Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)])
            .await
            .unwrap();
    let [honest, attacker] = servers.as_slice() else {
        panic!("two servers expected");
    };
    assert_eq!(honest.port(), attacker.port());
    let token = acme_challenge_path("tok");
    honest
        .serve_body(&token, "honest-key-authorization")
        .unwrap();
    attacker
        .serve_body(&token, "attacker-key-authorization")
        .unwrap();

    let dns = DohServer::start(world()).await.unwrap();
    dns.view("hijacked")
        .override_text("victim.example. 60 IN A 127.0.0.2")
        .unwrap();
    let url = url::Url::parse(&honest.url_for_host("victim.example", &token)).unwrap();
    assert_eq!(
        url,
        url::Url::parse(&attacker.url_for_host("victim.example", &token)).unwrap()
    );

    let limits = HttpLimits::default();
    let through = |view: &str| LoopbackNetwork::new(&dns.url_for(view)).unwrap();
    let seen_honestly = through("honest")
        .http_get(&url, &RequestHeaders::new(), &limits)
        .await
        .unwrap();
    let seen_hijacked = through("hijacked")
        .http_get(&url, &RequestHeaders::new(), &limits)
        .await
        .unwrap();
    assert_eq!(seen_honestly.body, b"honest-key-authorization");
    assert_eq!(seen_hijacked.body, b"attacker-key-authorization");
    assert_eq!(honest.request_count(&token), 1);
    assert_eq!(attacker.request_count(&token), 1);
    let host = format!("victim.example:{}", honest.port());
    assert_eq!(attacker.requests()[0].host.as_deref(), Some(host.as_str()));
    assert_eq!(
        dns.view("hijacked")
            .query_count("victim.example", RecordType::A),
        1
    );

    // A name the view does not resolve cannot be fetched.
    dns.view("dark").nxdomain("victim.example").unwrap();
    let err = through("dark")
        .http_get(&url, &RequestHeaders::new(), &limits)
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Connect(ref m) if m.contains("Non-Existent Domain")),
        "{err:?}"
    );
}

#[tokio::test]
async fn dropped_servers_free_their_ports() {
    let http = HttpServer::start().await.unwrap();
    let dns = DohServer::start(DnsWorld::new()).await.unwrap();
    let addrs = [http.addr(), dns.addr()];
    drop(http);
    drop(dns);
    for addr in addrs {
        let mut refused = false;
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(refused, "{addr} still accepts connections");
    }
}
