#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::testing::FakeNetwork;

fn run(web: &FakeNetwork, url: &str, policy: &RedirectPolicy) -> HttpFetch {
    pollster::block_on(fetch(
        web,
        &Url::parse(url).unwrap(),
        &RequestHeaders::new(),
        policy,
        &HttpLimits::default(),
    ))
}

#[test]
fn redirect_rules() {
    struct Case {
        name: &'static str,
        web: FakeNetwork,
        start: &'static str,
        policy: RedirectPolicy,
        failure: Option<FetchError>,
        fetched: Vec<&'static str>,
    }
    let strict = RedirectPolicy::default();
    let cases = vec![
        Case {
            name: "direct 200",
            web: FakeNetwork::new().page("http://a.example/x", 200, None, "ok"),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: None,
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "each followed status",
            web: FakeNetwork::new()
                .page("http://a.example/1", 301, Some("/2"), "")
                .page("http://a.example/2", 302, Some("https://b.example/3"), "")
                .page(
                    "https://b.example/3",
                    307,
                    Some("http://c.example:80/4"),
                    "",
                )
                .page(
                    "http://c.example/4",
                    308,
                    Some("https://d.example:443/5#frag"),
                    "",
                )
                .page("https://d.example/5", 204, None, ""),
            start: "http://a.example/1",
            policy: strict.clone(),
            failure: None,
            fetched: vec![
                "http://a.example/1",
                "http://a.example/2",
                "https://b.example/3",
                "http://c.example/4",
                "https://d.example/5",
            ],
        },
        Case {
            name: "relative location resolves against the current URL",
            web: FakeNetwork::new()
                .page("http://a.example/dir/x", 302, Some("y?q=1"), "")
                .page("http://a.example/dir/y?q=1", 200, None, "ok"),
            start: "http://a.example/dir/x",
            policy: strict.clone(),
            failure: None,
            fetched: vec!["http://a.example/dir/x", "http://a.example/dir/y?q=1"],
        },
        Case {
            name: "303 is not followed",
            web: FakeNetwork::new().page("http://a.example/x", 303, Some("/y"), ""),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::BadRedirectStatus(303)),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "300 is not followed",
            web: FakeNetwork::new().page("http://a.example/x", 300, Some("/y"), ""),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::BadRedirectStatus(300)),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "redirect to ftp is refused before fetching",
            web: FakeNetwork::new().page("http://a.example/x", 301, Some("ftp://a.example/y"), ""),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::RedirectToForbiddenScheme("ftp".into())),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "redirect to port 8080 is refused before fetching",
            web: FakeNetwork::new()
                .page(
                    "http://a.example/x",
                    302,
                    Some("http://a.example:8080/y"),
                    "",
                )
                .page("http://a.example:8080/y", 200, None, "ok"),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::RedirectToForbiddenPort(8080)),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "https on port 80 is an authorized port",
            web: FakeNetwork::new()
                .page(
                    "http://a.example/x",
                    302,
                    Some("https://a.example:80/y"),
                    "",
                )
                .page("https://a.example:80/y", 200, None, "ok"),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: None,
            fetched: vec!["http://a.example/x", "https://a.example:80/y"],
        },
        Case {
            name: "redirect with credentials is refused",
            web: FakeNetwork::new().page(
                "http://a.example/x",
                302,
                Some("http://u:p@a.example/y"),
                "",
            ),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::RedirectToForbiddenUrl(UrlRefusal::Credentials)),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "missing location",
            web: FakeNetwork::new().page("http://a.example/x", 301, None, ""),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::MissingLocation),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "unparseable location",
            web: FakeNetwork::new().page("http://a.example/x", 301, Some("http://[bad/"), ""),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::BadLocation("http://[bad/".into())),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "loop stops after the limit",
            web: FakeNetwork::new()
                .page("http://a.example/a", 302, Some("/b"), "")
                .page("http://a.example/b", 302, Some("/a"), ""),
            start: "http://a.example/a",
            policy: strict.clone(),
            failure: Some(FetchError::TooManyRedirects(10)),
            fetched: ["http://a.example/a", "http://a.example/b"]
                .into_iter()
                .cycle()
                .take(11)
                .collect(),
        },
        Case {
            name: "final 404",
            web: FakeNetwork::new().page("http://a.example/x", 302, Some("/y"), ""),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::Non2xx(404)),
            fetched: vec!["http://a.example/x", "http://a.example/y"],
        },
        Case {
            name: "final 500",
            web: FakeNetwork::new().page("http://a.example/x", 500, None, "oops"),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::Non2xx(500)),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "transport error",
            web: FakeNetwork::new().http_error("http://a.example/x", HttpError::Timeout),
            start: "http://a.example/x",
            policy: strict.clone(),
            failure: Some(FetchError::Http(HttpError::Timeout)),
            fetched: vec!["http://a.example/x"],
        },
        Case {
            name: "forbidden start URL is never fetched",
            web: FakeNetwork::new().page("http://127.0.0.1:8080/x", 200, None, "ok"),
            start: "http://127.0.0.1:8080/x",
            policy: strict.clone(),
            failure: Some(FetchError::ForbiddenUrl(UrlRefusal::Port(8080))),
            fetched: vec![],
        },
        Case {
            name: "local policy allows the listed port only",
            web: FakeNetwork::new()
                .page(
                    "http://127.0.0.1:8080/x",
                    302,
                    Some("http://127.0.0.1:80/y"),
                    "",
                )
                .page("http://127.0.0.1/y", 200, None, "ok"),
            start: "http://127.0.0.1:8080/x",
            policy: RedirectPolicy::local(vec![8080]),
            failure: Some(FetchError::RedirectToForbiddenPort(80)),
            fetched: vec!["http://127.0.0.1:8080/x"],
        },
        Case {
            name: "local policy follows between listed ports",
            web: FakeNetwork::new()
                .page(
                    "http://127.0.0.1:8080/x",
                    302,
                    Some("http://127.0.0.1:8081/y"),
                    "",
                )
                .page("http://127.0.0.1:8081/y", 200, None, "ok"),
            start: "http://127.0.0.1:8080/x",
            policy: RedirectPolicy::local(vec![8080, 8081]),
            failure: None,
            fetched: vec!["http://127.0.0.1:8080/x", "http://127.0.0.1:8081/y"],
        },
    ];
    for case in cases {
        let report = run(&case.web, case.start, &case.policy);
        assert_eq!(report.failure, case.failure, "{}", case.name);
        assert_eq!(report.succeeded(), case.failure.is_none(), "{}", case.name);
        assert_eq!(case.web.fetched(), case.fetched, "{}", case.name);
    }
}

#[test]
fn report_carries_history_and_bounded_body() {
    let web = FakeNetwork::new()
        .page("http://a.example/x", 301, Some("/y"), "moved")
        .page("http://a.example/y", 200, None, "0123456789");
    let limits = HttpLimits {
        max_body_bytes: 4,
        timeout_ms: 1000,
    };
    let report = pollster::block_on(fetch(
        &web,
        &Url::parse("http://a.example/x").unwrap(),
        &RequestHeaders::new(),
        &RedirectPolicy::default(),
        &limits,
    ));
    assert_eq!(
        report.history,
        [RedirectHop {
            url: "http://a.example/x".into(),
            status: 301,
            location: Some("/y".into()),
            contacted: None,
        }]
    );
    assert_eq!(report.final_url, "http://a.example/y");
    assert_eq!(report.final_status, Some(200));
    assert_eq!(report.body, b"0123");
    assert!(report.body_truncated);
    assert!(report.succeeded());
}

#[test]
fn oversized_headers_fail_the_fetch() {
    let long_location: &'static str =
        Box::leak(format!("/{}", "a".repeat(MAX_HEADER_VALUE_BYTES)).into_boxed_str());
    let at_limit: &'static str =
        Box::leak(format!("/{}", "b".repeat(MAX_HEADER_VALUE_BYTES - 1)).into_boxed_str());
    let web = FakeNetwork::new()
        .page("http://a.example/long", 302, Some(long_location), "")
        .page("http://a.example/limit", 302, Some(at_limit), "")
        .page(&format!("http://a.example{at_limit}"), 200, None, "ok");
    let report = run(&web, "http://a.example/long", &RedirectPolicy::default());
    assert_eq!(
        report.failure,
        Some(FetchError::HeaderTooLong {
            header: "Location".into(),
            length: MAX_HEADER_VALUE_BYTES + 1
        })
    );
    assert!(report.history.is_empty(), "the long value is not kept");
    assert!(run(&web, "http://a.example/limit", &RedirectPolicy::default()).succeeded());
}

#[test]
fn exactly_max_redirects_is_allowed() {
    let mut web = FakeNetwork::new();
    let urls: Vec<String> = (0..=3).map(|i| format!("http://a.example/{i}")).collect();
    let locations = ["/1", "/2", "/3"];
    for (i, location) in locations.iter().enumerate() {
        web = web.page(&urls[i], 302, Some(location), "");
    }
    web = web.page(&urls[3], 200, None, "ok");
    let policy = RedirectPolicy {
        allowed_ports: PortRule::Authorized,
        max_redirects: 3,
    };
    assert!(run(&web, "http://a.example/0", &policy).succeeded());
    let policy = RedirectPolicy {
        allowed_ports: PortRule::Authorized,
        max_redirects: 2,
    };
    assert_eq!(
        run(&web, "http://a.example/0", &policy).failure,
        Some(FetchError::TooManyRedirects(2))
    );
}
