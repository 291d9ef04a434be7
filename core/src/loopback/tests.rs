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
fn only_ports_80_and_443_have_stand_ins() {
    let both = LocalPorts {
        http: 8080,
        https: Some(8443),
    };
    assert_eq!(both.map_port(80), Ok(8080));
    assert_eq!(both.map_port(443), Ok(8443));
    assert_eq!(both.map_port(8080), Err(UnmappedPort::Other(8080)));
    assert_eq!(both.map_port(25), Err(UnmappedPort::Other(25)));
    let http_only = LocalPorts {
        http: 8080,
        https: None,
    };
    assert_eq!(http_only.map_port(443), Err(UnmappedPort::NoHttpsPort));
}
