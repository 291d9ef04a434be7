#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn loopback_is_localhost_127_8_and_the_ipv6_loopback_only() {
    for url in [
        "http://localhost/",
        "http://LOCALHOST:8053/",
        "http://127.9.0.1/",
        "http://[::1]/",
    ] {
        assert!(is_loopback_url(&Url::parse(url).unwrap()), "{url}");
    }
    for url in [
        "http://10.0.0.1/",
        "http://localhost.example/",
        "http://[::2]/",
        "data:text/plain,x",
    ] {
        assert!(!is_loopback_url(&Url::parse(url).unwrap()), "{url}");
    }
}

#[test]
fn only_http_80_and_https_443_have_stand_ins() {
    let both = LocalPorts {
        http: 8080,
        https: Some(8443),
    };
    let port = |ports: LocalPorts, url: &str| ports.port_for(&Url::parse(url).unwrap());
    assert_eq!(port(both, "http://a.example/x"), Ok(8080));
    assert_eq!(port(both, "https://a.example:443/"), Ok(8443));
    assert!(matches!(
        port(both, "http://a.example:8080/"),
        Err(UnmappedPort::Other { .. })
    ));
    assert!(matches!(
        port(both, "https://a.example:80/"),
        Err(UnmappedPort::Other { .. })
    ));
    let http_only = LocalPorts {
        http: 8080,
        https: None,
    };
    assert_eq!(
        port(http_only, "https://a.example/"),
        Err(UnmappedPort::NoHttpsPort)
    );
}
