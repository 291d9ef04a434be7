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

/// A port with no stand-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnmappedPort {
    /// Port 443 and [`LocalPorts::https`] is `None`.
    #[error("the loopback test setting has no port for 443")]
    NoHttpsPort,
    /// Any port other than 80 and 443.
    #[error("the loopback test setting maps only ports 80 and 443, not {0}")]
    Other(u16),
}

impl LocalPorts {
    /// The fixture port standing in for a connection to `port`: 80 to
    /// [`LocalPorts::http`], 443 to [`LocalPorts::https`]. Which protocol
    /// runs over it is the caller's (a real TLS server stands in for 443).
    pub fn map_port(&self, port: u16) -> Result<u16, UnmappedPort> {
        match port {
            80 => Ok(self.http),
            443 => self.https.ok_or(UnmappedPort::NoHttpsPort),
            other => Err(UnmappedPort::Other(other)),
        }
    }
}

#[cfg(test)]
mod tests;
