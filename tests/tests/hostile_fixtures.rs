//! Fault injection by the fixtures against the real worker: the DoH resolver
//! and the challenge web server of six workerd perspectives reset
//! connections, answer bytes that are not HTTP, drip their answers a byte
//! at a time past the deadline, cut them short, answer 500, answer a valid
//! DNS message for another request, send bodies that never end, redirect in
//! a loop.
//!
//! Every case must end in a SIGNED report (verified here) with verdict
//! `error` or `fail` and a reason that names what went wrong, before the
//! coordinator's call timeout; a fault never yields `pass`. Through the
//! coordinator, faults at 2 of 6 perspectives leave a valid BR decision with
//! both non-corroborations typed, and faults at 3 of 6 make it invalid.
//!
//! Each perspective resolves through its own [`HostileTcp`] front door,
//! relaying to the DoH fixture until a case turns it hostile (faults below
//! HTTP); faults the DoH fixture can make itself are view faults. Each HTTP
//! fault is served on its own loopback address at the fixture port, and the
//! faulty perspective's view points the victim's name there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::time::Duration;

use futures_util::future::join_all;
use mpic_coordinator::{Decision, PerspectiveResult, ResultStatus};
use mpic_core::check::CheckRequest;
use mpic_core::perspective::{CheckCall, CheckObservation};
use mpic_core::quorum::NonCorroboration;
use mpic_core::report::Verdict;
use mpic_tests::dns_fixture::{DnsFixtureError, ViewHandle};
use mpic_tests::hostile_tcp::{Behaviour, End, HostileTcp};
use mpic_tests::http_fixture::{HttpRule, HttpServer, acme_challenge_path};
use mpic_tests::perspective_client;
use mpic_tests::victim::{self, DOMAIN, KEY_AUTHORIZATION};
use mpic_tests::world::{CoordinatorSetup, SIX_SITES, World, WorldPerspective};

/// Starting six workerd perspectives is the expensive part: one world at a
/// time, so the two tests do not start twelve at once on a small machine.
static ONE_WORLD_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The coordinator's call timeout: every worker must have answered by then.
fn call_timeout() -> Duration {
    Duration::from_millis(CoordinatorSetup::default().call_timeout_ms)
}

/// The world plus one DoH front door per perspective (site order).
struct HostileWorld {
    world: World,
    doh_fronts: Vec<HostileTcp>,
}

impl HostileWorld {
    async fn start() -> Self {
        let mut doh_fronts = Vec::new();
        for _ in &SIX_SITES {
            // Relays once the DoH server exists (below); no DNS is asked before.
            doh_fronts.push(
                HostileTcp::start(Ipv4Addr::LOCALHOST, 0, Behaviour::reset())
                    .await
                    .unwrap(),
            );
        }
        let ports: Vec<u16> = doh_fronts.iter().map(HostileTcp::port).collect();
        let world = World::start_with_resolvers(&victim::zone(), &SIX_SITES, |i, doh_url| {
            let mut url = url::Url::parse(doh_url).unwrap();
            url.set_port(Some(ports[i])).unwrap();
            url.to_string()
        })
        .await
        .unwrap();
        victim::serve_challenges(&world).unwrap();
        let hostile = HostileWorld { world, doh_fronts };
        hostile.reset();
        hostile
    }

    /// Honest again: views, counts, and every front door relaying.
    fn reset(&self) {
        self.world.reset();
        for front in &self.doh_fronts {
            front.set_behaviour(Behaviour::Relay(self.world.dns.addr()));
        }
    }

    fn index(&self, id: &str) -> usize {
        self.world
            .perspectives
            .iter()
            .position(|p| p.site.id == id)
            .unwrap_or_else(|| panic!("no perspective {id}"))
    }
}

/// Where a fault sits.
enum Fault {
    /// The perspective's DoH front door misbehaves below HTTP.
    DohFront(Behaviour),
    /// The perspective's DoH view misbehaves (questions about the victim).
    DohView(fn(&ViewHandle) -> Result<(), DnsFixtureError>),
    /// The victim's web server, as this perspective reaches it, misbehaves
    /// below HTTP.
    HttpRaw(Behaviour),
    /// The victim's web server, as this perspective reaches it, serves this
    /// rule at the challenge path.
    HttpServes(HttpRule),
    /// Nothing listens where this perspective reaches the victim.
    HttpNobody,
}

/// Holds a case's own server until the round ends.
enum Hostile {
    Raw(HostileTcp),
    Rule(HttpServer),
    Nothing,
}

impl Hostile {
    /// Whether the perspective reached this case's server (a fault nobody
    /// met proves nothing).
    fn reached(&self) -> bool {
        match self {
            Hostile::Raw(server) => server.accepted() > 0,
            Hostile::Rule(server) => server.total_requests() > 0,
            Hostile::Nothing => true,
        }
    }
}

/// One fault and what the worker must report.
struct Case {
    name: &'static str,
    fault: Fault,
    verdict: Verdict,
    /// What the reason must say (each, ASCII case-insensitively).
    words: &'static [&'static str],
}

fn case(
    name: &'static str,
    fault: Fault,
    verdict: Verdict,
    words: &'static [&'static str],
) -> Case {
    Case {
        name,
        fault,
        verdict,
        words,
    }
}

/// Each HTTP fault gets a loopback address of its own, never reused in a
/// run (a dropped server may hold its port a moment longer).
fn hostile_ip(slot: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 10 + slot)
}

/// Puts `fault` in front of perspective `index`; HTTP faults on `ip`.
async fn inject(hw: &HostileWorld, index: usize, fault: &Fault, ip: Ipv4Addr) -> Hostile {
    let p = &hw.world.perspectives[index];
    let port = hw.world.honest_http.port();
    let point_victim_at = |ip: Ipv4Addr| {
        p.view
            .override_text(&format!("{DOMAIN}. 60 IN A {ip}"))
            .unwrap();
    };
    match fault {
        Fault::DohFront(behaviour) => {
            hw.doh_fronts[index].set_behaviour(behaviour.clone());
            Hostile::Nothing
        }
        Fault::DohView(set) => {
            set(&p.view).unwrap();
            Hostile::Nothing
        }
        Fault::HttpRaw(behaviour) => {
            let server = HostileTcp::start(ip, port, behaviour.clone())
                .await
                .unwrap();
            point_victim_at(ip);
            Hostile::Raw(server)
        }
        Fault::HttpNobody => {
            point_victim_at(ip);
            Hostile::Nothing
        }
        Fault::HttpServes(rule) => {
            let server = HttpServer::start_on(ip, port).await.unwrap();
            server
                .set_rule(&acme_challenge_path(victim::TOKEN), rule.clone())
                .unwrap();
            point_victim_at(ip);
            Hostile::Rule(server)
        }
    }
}

fn check_call(perspective_id: &str, check: &serde_json::Value) -> CheckCall {
    let json =
        serde_json::json!({"perspective_ids": [perspective_id], "attempt": 1, "check": check});
    serde_json::from_value(json).unwrap()
}

/// The CAA check as a coordinator would send it (with the CA's identity).
fn caa_call_check() -> serde_json::Value {
    let mut caa = victim::caa_check();
    caa["caa_check_parameters"] = serde_json::json!({"caa_domains": ["ca.example"]});
    caa
}

/// What one perspective signed, or why there is nothing to judge.
async fn run_check(
    p: &WorldPerspective,
    check: &serde_json::Value,
) -> Result<(Verdict, String), String> {
    let call = check_call(p.site.id, check);
    let (url, key) = (p.url(), p.key.verifying_key());
    let called = perspective_client::call(&url, &key, &call);
    let verified = match tokio::time::timeout(call_timeout(), called).await {
        Err(_) => {
            return Err(format!(
                "no answer within the coordinator's call timeout ({:?})",
                call_timeout()
            ));
        }
        Ok(Err(e)) => return Err(format!("no verified report: {e}")),
        Ok(Ok(verified)) => verified,
    };
    if verified.body.resolvers != [p.doh_url.clone()] {
        return Err(format!(
            "report names resolvers {:?}",
            verified.body.resolvers
        ));
    }
    let kind = match &verified.observed {
        CheckObservation::Caa(_) => "caa",
        CheckObservation::Dcv(_) => "dcv",
        CheckObservation::NotRun { .. } => "not_run",
    };
    if kind != check["check_type"].as_str().unwrap_or_default() {
        return Err(format!("observation is {kind}: {}", verified.body.reason));
    }
    Ok((verified.body.verdict, verified.body.reason))
}

/// Runs `check` at every perspective at once, `cases[i]` injected at
/// perspective `i` (the rest honest: they must pass), and judges every
/// report. HTTP faults use loopback addresses from `first_slot` on.
async fn round(hw: &HostileWorld, check: &serde_json::Value, cases: &[Case], first_slot: u8) {
    assert!(cases.len() <= hw.world.perspectives.len());
    let mut held = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let slot = first_slot + u8::try_from(i).unwrap();
        held.push(inject(hw, i, &case.fault, hostile_ip(slot)).await);
    }
    let runs = hw.world.perspectives.iter().map(|p| run_check(p, check));
    let outcomes = join_all(runs).await;

    let mut wrong = Vec::new();
    for (i, (p, outcome)) in hw.world.perspectives.iter().zip(&outcomes).enumerate() {
        let (name, verdict, words) = match cases.get(i) {
            Some(case) => (case.name, case.verdict, case.words),
            None => ("honest control", Verdict::Pass, &[][..]),
        };
        eprintln!("{name} at {}: {outcome:?}", p.site.id);
        if held.get(i).is_some_and(|h| !h.reached()) {
            wrong.push(format!(
                "{name} at {}: the fault was never reached",
                p.site.id
            ));
        }
        match outcome {
            Err(e) => wrong.push(format!("{name} at {}: {e}", p.site.id)),
            Ok((got, reason)) => {
                let lower = reason.to_ascii_lowercase();
                let missing: Vec<&&str> = words
                    .iter()
                    .filter(|w| !lower.contains(&w.to_ascii_lowercase()))
                    .collect();
                if *got != verdict || !missing.is_empty() {
                    wrong.push(format!(
                        "{name} at {}: want {verdict:?} naming {words:?}, got {got:?}: {reason}",
                        p.site.id
                    ));
                }
            }
        }
    }
    drop(held);
    hw.reset();
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// An HTTP/1.1 response head.
fn head(status: &str, headers: &[(&str, &str)]) -> String {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// The right key authorization with a head promising 1000 bytes of body.
fn right_body_cut_short() -> String {
    head(
        "200 OK",
        &[("content-type", "text/plain"), ("content-length", "1000")],
    ) + KEY_AUTHORIZATION
}

const DNS_HEAD: [(&str, &str); 2] = [
    ("content-type", "application/dns-message"),
    ("content-length", "512"),
];

fn doh_cases_slow() -> Vec<Case> {
    use Fault::*;
    vec![
        case(
            "DoH connection reset",
            DohFront(Behaviour::reset()),
            Verdict::Error,
            &[
                "caa lookup failed",
                "no_response",
                "transport",
                "connection lost",
            ],
        ),
        case(
            "DoH answers bytes that are not HTTP",
            DohFront(Behaviour::garbage()),
            Verdict::Error,
            &["caa lookup failed", "no_response", "transport", "not http"],
        ),
        case(
            "DoH response head dripped past the deadline",
            DohFront(Behaviour::drip(
                head("200 OK", &DNS_HEAD),
                Duration::from_millis(250),
            )),
            Verdict::Error,
            &["caa lookup failed", "no_response", "timeout"],
        ),
        case(
            "DoH answer body dripped past the deadline",
            DohView(|v| v.drip(DOMAIN, Duration::from_millis(500))),
            Verdict::Error,
            &["caa lookup failed", "no_response", "timeout"],
        ),
        case(
            "DoH answers HTTP 500",
            DohView(|v| v.http_status(DOMAIN, 500)),
            Verdict::Error,
            &["caa lookup failed", "http_status", "500"],
        ),
    ]
}

fn doh_cases_fast() -> Vec<Case> {
    use Fault::*;
    vec![
        case(
            "DoH response cut short",
            DohFront(Behaviour::cut_short(
                head("200 OK", &DNS_HEAD) + "\u{0}\u{1}",
            )),
            Verdict::Error,
            &["caa lookup failed", "no_response", "transport", "cut short"],
        ),
        case(
            "DoH answer with another message ID",
            DohView(|v| v.wrong_id(DOMAIN)),
            Verdict::Error,
            &["caa lookup failed", "mismatch", "response id"],
        ),
        case(
            "DoH answer to another question",
            DohView(|v| v.other_question(DOMAIN, "example")),
            Verdict::Error,
            &["caa lookup failed", "mismatch", "question"],
        ),
        case(
            "DoH answer that is not a DNS message",
            DohView(|v| v.malformed(DOMAIN)),
            Verdict::Error,
            &["caa lookup failed", "malformed", "cannot decode"],
        ),
        case(
            "DoH answer truncated (TC)",
            DohView(|v| v.truncated(DOMAIN)),
            Verdict::Error,
            &["caa lookup failed", "malformed", "truncated"],
        ),
        case(
            "DoH answer longer than a DNS message",
            DohView(|v| v.oversized(DOMAIN)),
            Verdict::Error,
            &["caa lookup failed", "limit_exceeded"],
        ),
    ]
}

fn http_cases_transport() -> Vec<Case> {
    use Fault::*;
    vec![
        case(
            "HTTP connection reset",
            HttpRaw(Behaviour::reset()),
            Verdict::Error,
            &["could not look", "closed before the response head ended"],
        ),
        case(
            "HTTP answered with bytes that are not HTTP",
            HttpRaw(Behaviour::garbage()),
            Verdict::Error,
            &["could not look", "protocol", "unreadable response head"],
        ),
        case(
            "HTTP response head (with the right body) dripped past the deadline",
            HttpRaw(Behaviour::drip(
                head(
                    "200 OK",
                    &[("content-type", "text/plain"), ("content-length", "22")],
                ) + KEY_AUTHORIZATION,
                Duration::from_millis(300),
            )),
            Verdict::Error,
            &["could not look", "timeout"],
        ),
        case(
            "HTTP right body dripped past the deadline",
            HttpServes(HttpRule::Slow {
                body: KEY_AUTHORIZATION.into(),
                chunk_bytes: 1,
                interval: Duration::from_secs(1),
            }),
            Verdict::Error,
            &["could not look", "timeout"],
        ),
        case(
            "HTTP right body cut short (content-length promises more)",
            HttpRaw(Behaviour::cut_short(right_body_cut_short())),
            Verdict::Error,
            &[
                "could not look",
                "protocol",
                "closed after 22 of 1000 body bytes",
            ],
        ),
    ]
}

fn http_cases_answers() -> Vec<Case> {
    use Fault::*;
    let chunked_cut = head(
        "200 OK",
        &[
            ("content-type", "text/plain"),
            ("transfer-encoding", "chunked"),
        ],
    ) + &format!("{:x}\r\n{KEY_AUTHORIZATION}\r\n", KEY_AUTHORIZATION.len());
    vec![
        case(
            "HTTP right body in a chunked stream cut before its last chunk",
            HttpRaw(Behaviour::cut_short(chunked_cut)),
            Verdict::Error,
            &["could not look", "protocol", "closed inside a chunked body"],
        ),
        case(
            "HTTP right body then a reset",
            HttpRaw(Behaviour::Reply {
                bytes: right_body_cut_short().into_bytes(),
                end: End::Reset,
            }),
            Verdict::Error,
            &[
                "could not look",
                "protocol",
                "closed after 22 of 1000 body bytes",
            ],
        ),
        case(
            "HTTP 500 with the right body",
            HttpServes(HttpRule::Respond {
                status: 500,
                content_type: Some("text/plain".into()),
                body: KEY_AUTHORIZATION.into(),
            }),
            Verdict::Fail,
            &["non2xx", "500"],
        ),
        case(
            "HTTP huge body",
            HttpServes(HttpRule::Huge { len: 16 << 20 }),
            Verdict::Fail,
            &["body_mismatch", "\"body_truncated\":true"],
        ),
        case(
            "HTTP redirect loop",
            HttpServes(HttpRule::redirect(
                302,
                format!("http://{DOMAIN}{}", acme_challenge_path(victim::TOKEN)),
            )),
            Verdict::Fail,
            &["too_many_redirects"],
        ),
        case(
            "HTTP port closed",
            HttpNobody,
            Verdict::Error,
            &["could not look", "connect"],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_signs_an_error_or_fail_naming_each_fault() {
    let _one = ONE_WORLD_AT_A_TIME.lock().await;
    let hw = HostileWorld::start().await;

    // The honest world passes everywhere, through the relaying front doors.
    round(&hw, &caa_call_check(), &[], 0).await;
    round(&hw, &victim::http01_check(), &[], 0).await;

    round(&hw, &caa_call_check(), &doh_cases_slow(), 0).await;
    round(&hw, &caa_call_check(), &doh_cases_fast(), 0).await;
    round(&hw, &victim::http01_check(), &http_cases_transport(), 0).await;
    round(&hw, &victim::http01_check(), &http_cases_answers(), 10).await;
}

// ---------------------------------------------------------------------------
// Through the coordinator.

fn result<'a>(decision: &'a Decision, id: &str) -> &'a PerspectiveResult {
    decision
        .final_attempt()
        .unwrap()
        .results
        .iter()
        .find(|r| r.perspective_id == id)
        .unwrap_or_else(|| panic!("{id} not in the cohort: {decision:#?}"))
}

fn summary(decision: &Decision) -> String {
    let rows: Vec<String> = decision
        .final_attempt()
        .map(|a| a.results.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            format!(
                "{}={} ({})",
                r.perspective_id,
                r.status.summary(),
                r.detail.clone().unwrap_or_default()
            )
        })
        .collect();
    format!(
        "valid={} quorum={} reasons={:?}\n  {}",
        decision.is_valid(),
        decision.tally().map(|t| t.to_string()).unwrap_or_default(),
        decision.reasons(),
        rows.join("\n  ")
    )
}

/// How a faulty perspective's non-corroboration must read.
#[derive(Debug, Clone, Copy)]
enum Typed {
    /// Verdict `error`: it could not look.
    PerspectiveError(&'static str),
    /// Verdict `fail`: it looked and saw something else.
    Mismatch(&'static str),
}

/// Decides `spec` with faults at `faulty` (id, fault, how its result must
/// read); every other perspective must corroborate or be cancelled.
async fn decide_with_faults(
    hw: &HostileWorld,
    spec: &CheckRequest,
    faulty: Vec<(&str, Fault, Typed)>,
    first_slot: u8,
    delay_honest: bool,
) -> Decision {
    let mut held = Vec::new();
    for (n, (id, fault, _)) in faulty.iter().enumerate() {
        let slot = first_slot + u8::try_from(n).unwrap();
        held.push(inject(hw, hw.index(id), fault, hostile_ip(slot)).await);
    }
    if delay_honest {
        // Honest answers arrive last, so that quorum is not certain before
        // the faulty perspectives' reports are in and typed.
        for p in &hw.world.perspectives {
            if !faulty.iter().any(|(id, _, _)| *id == p.site.id) {
                p.view.delay(DOMAIN, Duration::from_secs(2)).unwrap();
            }
        }
    }
    let setup = CoordinatorSetup::default();
    let deadline = Duration::from_millis(setup.call_timeout_ms * u64::from(setup.max_attempts))
        + Duration::from_secs(10);
    let coordinator = hw.world.coordinator(&setup).unwrap();
    let decision = tokio::time::timeout(deadline, coordinator.check(spec))
        .await
        .expect("the coordinator decides within its deadline")
        .expect("the request is admitted");
    eprintln!("{}", summary(&decision));

    for r in &decision.final_attempt().unwrap().results {
        let expected = faulty
            .iter()
            .find(|(id, _, _)| *id == r.perspective_id)
            .map(|(_, _, typed)| *typed);
        match (expected, &r.status) {
            (None, ResultStatus::Corroborated | ResultStatus::Cancelled) => {}
            (None, other) => panic!(
                "{} is honest but {other:?}\n{}",
                r.perspective_id,
                summary(&decision)
            ),
            (Some(typed), status) => {
                let ok = match (typed, status) {
                    (
                        Typed::PerspectiveError(word),
                        ResultStatus::NotCorroborated {
                            reason: NonCorroboration::PerspectiveError { detail },
                        },
                    )
                    | (
                        Typed::Mismatch(word),
                        ResultStatus::NotCorroborated {
                            reason: NonCorroboration::Mismatch { detail },
                        },
                    ) => detail.to_ascii_lowercase().contains(word),
                    _ => false,
                };
                assert!(
                    ok,
                    "{}: want {typed:?}, got {status:?}\n{}",
                    r.perspective_id,
                    summary(&decision)
                );
            }
        }
    }
    for (hostile, (id, _, _)) in held.iter().zip(&faulty) {
        assert!(hostile.reached(), "{id} never reached its fault");
    }
    drop(held);
    hw.reset();
    decision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_outvotes_two_faulty_perspectives_but_not_three() {
    let _one = ONE_WORLD_AT_A_TIME.lock().await;
    let hw = HostileWorld::start().await;
    let http01 = CheckRequest::from_value(&victim::http01_check()).unwrap();
    let caa = CheckRequest::from_value(&victim::caa_check()).unwrap();

    // http-01, 2 of 6: a DoH reset (the victim's address cannot be looked
    // up) and a web server answering garbage. Still valid, both typed.
    let decision = decide_with_faults(
        &hw,
        &http01,
        vec![
            (
                "us-east",
                Fault::DohFront(Behaviour::reset()),
                Typed::PerspectiveError("transport"),
            ),
            (
                "sa-east",
                Fault::HttpRaw(Behaviour::garbage()),
                Typed::PerspectiveError("could not look"),
            ),
        ],
        30,
        true,
    )
    .await;
    assert!(decision.is_valid(), "2 of 6: {}", summary(&decision));
    for id in ["us-east", "sa-east"] {
        assert!(
            matches!(
                result(&decision, id).status,
                ResultStatus::NotCorroborated { .. }
            ),
            "{id} must be listed as not corroborating: {}",
            summary(&decision)
        );
    }

    // http-01, 3 of 6: an answer to another DNS question, a body dripped
    // past the deadline, a 500 with the right body. Invalid.
    let decision = decide_with_faults(
        &hw,
        &http01,
        vec![
            (
                "eu-west",
                Fault::DohView(|v| v.other_question(DOMAIN, "example")),
                Typed::PerspectiveError("does not answer the question"),
            ),
            (
                "af-south",
                Fault::HttpServes(HttpRule::Slow {
                    body: KEY_AUTHORIZATION.into(),
                    chunk_bytes: 1,
                    interval: Duration::from_secs(1),
                }),
                Typed::PerspectiveError("timeout"),
            ),
            (
                "ap-southeast",
                Fault::HttpServes(HttpRule::Respond {
                    status: 500,
                    content_type: Some("text/plain".into()),
                    body: KEY_AUTHORIZATION.into(),
                }),
                Typed::Mismatch("non2xx"),
            ),
        ],
        32,
        false,
    )
    .await;
    assert!(!decision.is_valid(), "3 of 6: {}", summary(&decision));
    assert!(!decision.reasons().is_empty(), "{}", summary(&decision));

    // CAA, 2 of 6: garbage from the resolver, an answer with another ID.
    let decision = decide_with_faults(
        &hw,
        &caa,
        vec![
            (
                "us-west",
                Fault::DohFront(Behaviour::garbage()),
                Typed::PerspectiveError("transport"),
            ),
            (
                "af-south",
                Fault::DohView(|v| v.wrong_id(DOMAIN)),
                Typed::PerspectiveError("mismatch"),
            ),
        ],
        40,
        true,
    )
    .await;
    assert!(decision.is_valid(), "caa 2 of 6: {}", summary(&decision));

    // CAA, 3 of 6: a dripped resolver head, a truncated answer, HTTP 500
    // from the resolver. Invalid.
    let decision = decide_with_faults(
        &hw,
        &caa,
        vec![
            (
                "us-east",
                Fault::DohFront(Behaviour::drip(
                    head("200 OK", &DNS_HEAD),
                    Duration::from_millis(250),
                )),
                Typed::PerspectiveError("timeout"),
            ),
            (
                "eu-west",
                Fault::DohView(|v| v.truncated(DOMAIN)),
                Typed::PerspectiveError("truncated"),
            ),
            (
                "sa-east",
                Fault::DohView(|v| v.http_status(DOMAIN, 500)),
                Typed::PerspectiveError("500"),
            ),
        ],
        42,
        false,
    )
    .await;
    assert!(!decision.is_valid(), "caa 3 of 6: {}", summary(&decision));
    assert!(!decision.reasons().is_empty(), "{}", summary(&decision));
}
