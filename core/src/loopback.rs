//! Loopback test worlds: which hosts are this machine, and which loopback
//! ports stand in for 80 and 443. One rule for the worker's local mode, the
//! coordinator's native network (`--allow-loopback-for-tests`) and every
//! "plain http only on loopback" check of a resolver or perspective URL.

use url::{Host, Url};

/// `localhost`, or an IP literal in 127.0.0.0/8 or `::1`: this machine,
/// where nothing on the wire can be read or changed.
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Whether `url`'s host is loopback ([`is_loopback_host`]); a URL without
/// a host is not.
pub fn is_loopback_url(url: &Url) -> bool {
    url.host().is_some_and(|host| is_loopback_host(&host))
}

/// The loopback fixture ports that stand in for 80 and 443 in a test
/// world; whatever uses them reaches loopback addresses only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalPorts {
    /// Stands in for `http:80`.
    pub http: u16,
    /// Stands in for `https:443`; absent, `https:443` is refused.
    pub https: Option<u16>,
}

/// A URL whose port has no stand-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnmappedPort {
    /// An `https:443` URL and [`LocalPorts::https`] is `None`.
    #[error("the loopback test setting has no port for https:443")]
    NoHttpsPort,
    /// Any scheme and port other than `http:80` and `https:443`.
    #[error("the loopback test setting maps only http:80 and https:443, not {scheme}:{port:?}")]
    Other {
        /// The URL's scheme.
        scheme: String,
        /// The URL's port, explicit or the scheme's default; `None` when the
        /// scheme has no known default.
        port: Option<u16>,
    },
}

impl LocalPorts {
    /// The fixture port standing in for `url`'s scheme and port.
    pub fn port_for(&self, url: &Url) -> Result<u16, UnmappedPort> {
        match (url.scheme(), url.port_or_known_default()) {
            ("http", Some(80)) => Ok(self.http),
            ("https", Some(443)) => self.https.ok_or(UnmappedPort::NoHttpsPort),
            (scheme, port) => Err(UnmappedPort::Other {
                scheme: scheme.to_owned(),
                port,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
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
}
