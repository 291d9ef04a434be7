//! HTTP redirects: `redirect::fetch` over a web server the attacker scripts.
//!
//! Input ([`decode`]):
//! - a policy byte: `max_redirects = byte % 13`; bit 7 set: the port rule is
//!   a list ([`PORT_LISTS`], chosen by bits 4-6), else the BR's 80/443;
//! - a start-URL byte ([`START_URLS`]);
//! - then one scripted response per fetch, in order, until the input ends
//!   (later fetches get 404): a status byte (below 0xf0 an entry of
//!   [`STATUSES`]; `0xf0..=0xf4` a transport error; above, two bytes of raw
//!   status) and a location byte (0: no `Location`; below 0x7f an entry of
//!   [`LOCATIONS`]; 0x7f one byte longer than `MAX_HEADER_VALUE_BYTES`; else
//!   a raw header of `byte & 0x7f` bytes).
//!
//! Invariants:
//! - at most `max_redirects + 1` GETs (the first URL plus the redirects
//!   followed), and each fetched URL passes `RedirectPolicy::check_url`;
//! - a URL the policy refuses is never fetched, the start URL included;
//! - only 301, 302, 307 and 308 are followed, each to its `Location`
//!   resolved against the URL that sent it (fragment dropped);
//! - never a pass unless the last response was a 2xx; `succeeded()` exactly
//!   when no failure is recorded; the history is what was fetched;
//! - no header value longer than `MAX_HEADER_VALUE_BYTES` reaches the report:
//!   such a response ends the fetch with `HeaderTooLong`.

use mpic_core::network::{HttpError, HttpLimits};
use mpic_core::redirect::{
    FetchError, HttpFetch, MAX_HEADER_VALUE_BYTES, PortRule, RedirectPolicy, fetch,
};
use mpic_core::testing::{FakeNetwork, Page};
use url::Url;

use crate::input::Input;

/// Responses scripted at most.
pub const MAX_RESPONSES: usize = 32;

pub const PORT_LISTS: [&[u16]; 8] = [
    &[],
    &[80],
    &[443],
    &[8080],
    &[80, 443, 8080],
    &[8443, 443],
    &[0],
    &[65535, 1],
];
pub const START_URLS: [&str; 6] = [
    "http://example.com/.well-known/acme-challenge/token",
    "https://example.com/.well-known/pki-validation/file.txt",
    "http://example.com:8080/.well-known/acme-challenge/token",
    "ftp://example.com/file",
    "http://user:pass@example.com/",
    "https://[2001:db8::1]/x",
];
pub const STATUSES: [u16; 20] = [
    200, 204, 299, 301, 302, 303, 304, 305, 307, 308, 300, 399, 400, 404, 500, 100, 199, 0, 999,
    206,
];
pub const LOCATIONS: [&str; 24] = [
    "/next",
    "next",
    "../../up",
    "http://example.com/a",
    "https://example.com/b",
    "http://example.com:80/c",
    "https://example.com:443/d",
    "http://example.com:8080/e",
    "https://example.com:8443/f",
    "http://example.com:0/g",
    "//other.example/h",
    "//other.example:22/i",
    "ftp://example.com/j",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/plain,x",
    "http://user@example.com/k",
    "http://:pass@example.com/l",
    "http:/example.com/m",
    "  /spaced  ",
    "#fragment",
    "?query",
    "http://[::1]:443/n",
    "https://example.com/.well-known/acme-challenge/token#frag",
];

/// One scripted response.
#[derive(Debug, Clone)]
pub enum Scripted {
    Response {
        status: u16,
        location: Option<String>,
    },
    Error(HttpError),
}

/// One decoded input.
#[derive(Debug, Clone)]
pub struct Case {
    pub policy: RedirectPolicy,
    pub start: Url,
    pub script: Vec<Scripted>,
}

/// Decodes an input (layout in the module documentation).
pub fn decode(data: &[u8]) -> Case {
    let mut input = Input::new(data);
    let policy_byte = input.byte();
    let allowed_ports = if policy_byte & 0x80 != 0 {
        PortRule::Listed(PORT_LISTS[usize::from((policy_byte >> 4) & 7)].to_vec())
    } else {
        PortRule::Authorized
    };
    let policy = RedirectPolicy {
        allowed_ports,
        max_redirects: usize::from(policy_byte & 0x7f) % 13,
    };
    let start_text = input.pick(&START_URLS);
    let start = match Url::parse(start_text) {
        Ok(url) => url,
        Err(e) => panic!("fixed start URL {start_text}: {e}"),
    };

    let mut script = Vec::new();
    while !input.is_empty() && script.len() < MAX_RESPONSES {
        let status_byte = input.byte();
        let status = match status_byte {
            0xf0..=0xf4 => {
                script.push(Scripted::Error(transport_error(status_byte)));
                continue;
            }
            0xf5..=0xff => input.u16(),
            _ => STATUSES[usize::from(status_byte) % STATUSES.len()],
        };
        let location_byte = input.byte();
        let location = match location_byte {
            0 => None,
            1..=0x7e => Some(LOCATIONS[usize::from(location_byte) % LOCATIONS.len()].to_owned()),
            0x7f => Some(format!("/{}", "a".repeat(MAX_HEADER_VALUE_BYTES))),
            _ => Some(
                String::from_utf8_lossy(input.bytes(usize::from(location_byte & 0x7f)))
                    .into_owned(),
            ),
        };
        script.push(Scripted::Response { status, location });
    }
    Case {
        policy,
        start,
        script,
    }
}

fn transport_error(byte: u8) -> HttpError {
    match byte {
        0xf0 => HttpError::Timeout,
        0xf1 => HttpError::Connect("connection refused".into()),
        0xf2 => HttpError::Tls("bad certificate".into()),
        0xf3 => HttpError::Protocol("bad header".into()),
        _ => HttpError::Refused("blocked".into()),
    }
}

pub fn run(data: &[u8]) {
    let case = decode(data);
    // Serves the script in order (404 past its end) and records every URL
    // fetched.
    let web = FakeNetwork::new().http_script(
        case.script
            .iter()
            .map(|scripted| match scripted {
                Scripted::Error(error) => Err(error.clone()),
                Scripted::Response { status, location } => Ok(Page {
                    status: *status,
                    location: location.clone(),
                    body: b"a scripted response".to_vec(),
                }),
            })
            .collect(),
    );
    let result = pollster::block_on(fetch(
        &web,
        &case.start,
        &mpic_core::network::RequestHeaders::new(),
        &case.policy,
        &HttpLimits::default(),
    ));
    let fetched: Vec<Url> = web
        .fetched()
        .iter()
        .filter_map(|url| Url::parse(url).ok())
        .collect();
    check(&case, &fetched, &result);
}

fn scripted_status(case: &Case, index: usize) -> Option<u16> {
    match case.script.get(index) {
        Some(Scripted::Response { status, .. }) => Some(*status),
        Some(Scripted::Error(_)) => None,
        None => Some(404),
    }
}

fn check(case: &Case, fetched: &[Url], result: &HttpFetch) {
    let policy = &case.policy;
    assert!(
        fetched.len() <= policy.max_redirects + 1,
        "{} GETs under a limit of {} redirects",
        fetched.len(),
        policy.max_redirects
    );
    for url in fetched {
        assert_eq!(
            policy.check_url(url),
            Ok(()),
            "fetched {url}, which the policy refuses"
        );
    }
    if let Err(refusal) = policy.check_url(&case.start) {
        assert!(fetched.is_empty(), "fetched a refused start URL");
        assert_eq!(result.failure, Some(FetchError::ForbiddenUrl(refusal)));
        return;
    }
    assert_eq!(
        fetched.first(),
        Some(&case.start),
        "did not start at the URL"
    );

    assert_eq!(result.succeeded(), result.failure.is_none(), "{result:?}");
    let last = fetched.len() - 1;
    let last_status = scripted_status(case, last);
    if result.succeeded() {
        assert!(
            last_status.is_some_and(|s| (200..300).contains(&s)),
            "pass on a final {last_status:?}"
        );
        assert_eq!(result.final_status, last_status);
        assert_eq!(result.final_url, fetched[last].as_str());
    }
    if !last_status.is_some_and(|s| (200..300).contains(&s)) {
        assert!(!result.succeeded(), "pass without a 2xx");
    }

    for hop in &result.history {
        assert!(
            hop.location
                .as_ref()
                .is_none_or(|l| l.len() <= MAX_HEADER_VALUE_BYTES),
            "an oversized Location reached the report"
        );
    }
    let last_location_len = match case.script.get(last) {
        Some(Scripted::Response {
            location: Some(location),
            ..
        }) => location.len(),
        _ => 0,
    };
    if last_location_len > MAX_HEADER_VALUE_BYTES {
        assert!(
            matches!(result.failure, Some(FetchError::HeaderTooLong { .. })),
            "an oversized Location did not end the fetch: {:?}",
            result.failure
        );
    }

    // Every response but the last redirected, and the history shows them.
    assert!(result.history.len() <= policy.max_redirects + 1);
    assert!(result.history.len() == last || result.history.len() == last + 1);
    for (i, hop) in result.history.iter().enumerate() {
        assert_eq!(hop.url, fetched[i].as_str(), "history and GETs differ");
        assert!(
            (300..400).contains(&hop.status),
            "hop with status {}",
            hop.status
        );
        assert_eq!(Some(hop.status), scripted_status(case, i));
    }
    for i in 1..fetched.len() {
        let hop = &result.history[i - 1];
        assert!(
            matches!(hop.status, 301 | 302 | 307 | 308),
            "followed a {}",
            hop.status
        );
        let location = hop.location.as_deref().unwrap_or_default();
        let mut expected = match fetched[i - 1].join(location.trim()) {
            Ok(url) => url,
            Err(e) => panic!("followed an unparsable Location {location:?}: {e}"),
        };
        expected.set_fragment(None);
        assert_eq!(
            fetched[i], expected,
            "followed somewhere else than Location"
        );
        assert_eq!(fetched[i].fragment(), None);
    }
}
