#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const LOST: &str = "Error: Network connection lost.";
const OPAQUE: &str = "Error: internal error; reference = mk05rshakqarf674sqhm65l1";

#[test]
fn dns_failures_are_transport_failures_with_the_same_detail() {
    assert_eq!(FetchFailure::Timeout.into_dns_error(), DnsError::Timeout);
    assert_eq!(
        FetchFailure::no_response(LOST).into_dns_error(),
        DnsError::Transport("Network connection lost.".into())
    );
    assert_eq!(
        FetchFailure::body_cut(LOST).into_dns_error(),
        DnsError::Transport("response body cut short: Network connection lost.".into())
    );
    let DnsError::Transport(detail) = FetchFailure::no_response(OPAQUE).into_dns_error() else {
        panic!("a DoH failure is a transport failure");
    };
    assert!(
        detail.contains("not HTTP") && detail.contains("internal error"),
        "{detail}"
    );
    assert!(
        detail.contains("reference = mk05rshakqarf674sqhm65l1"),
        "the reference finds the cause in the log: {detail}"
    );
}

#[test]
fn only_a_js_error_class_is_stripped() {
    let cases = [
        (LOST, "Network connection lost."),
        ("TypeError: Invalid URL: x", "Invalid URL: x"),
        ("kj error: something", "kj error: something"),
        ("no colon at all", "no colon at all"),
        ("  Error: padded  ", "padded"),
    ];
    for (message, want) in cases {
        assert_eq!(plain(message), want, "{message}");
    }
}
