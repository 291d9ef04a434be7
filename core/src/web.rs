//! The perspective's exchanges with the web, the same in every perspective:
//! the host resolved through the perspective's own resolvers, every address
//! checked against its [`AddressPolicy`](crate::address_policy::AddressPolicy),
//! a TCP connection opened by the [`Network`] (the only part that differs
//! between the worker, the coordinator and the tests), then TLS ([`tls`]) and
//! HTTP/1.1 ([`crate::http1`]) by core.
//!
//! # Which address
//! A and AAAA are asked at once. Addresses the policy refuses are dropped;
//! if none is left the exchange is refused and nothing is contacted. As in
//! Boulder's VA, the first IPv6 address is tried first and the first IPv4
//! address is the fallback when it fails; with both present, the IPv6
//! attempt gets at most half of the timeout, so that the fallback has a
//! chance (core has no clock to measure what resolution already took; the
//! caller's deadline bounds the whole). What was contacted (resolver, address, port, TLS session)
//! goes into the response ([`Contacted`]) and from there into the signed
//! report.
//!
//! # Deadlines
//! The whole exchange (resolution, connection, handshake, request and body)
//! ends within the caller's timeout, on the network's own clock
//! ([`Network::sleep`]).

pub mod tls;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use futures_util::future::{Either, join, select};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use url::{Host, Url};

use crate::http1;
use crate::network::{
    ConnectError, Contacted, HttpError, HttpLimits, HttpResponse, Network, RequestHeaders,
};

/// The `User-Agent` a perspective sends unless the request names one.
pub const USER_AGENT: &str = concat!("mpic-perspective/", env!("CARGO_PKG_VERSION"));

/// The ALPN protocol an https GET offers.
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// One HTTP GET of exactly `url` (see the module documentation); what
/// [`Network::http_get`] does in every perspective.
pub async fn get<N: Network + ?Sized>(
    network: &N,
    url: &Url,
    headers: &RequestHeaders,
    limits: &HttpLimits,
) -> Result<HttpResponse, HttpError> {
    let exchange = async {
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(HttpError::Refused(format!(
                    "scheme {other:?} is not http or https"
                )));
            }
        };
        let host = url
            .host()
            .ok_or_else(|| HttpError::Refused(format!("{url} has no host")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| HttpError::Refused(format!("{url} has no port")))?;
        let (mut connection, mut contacted) = open(network, &host, port, limits.timeout_ms).await?;
        let mut response = if https {
            let server_name = match &host {
                Host::Domain(name) => tls::ServerName::Domain((*name).to_owned()),
                Host::Ipv4(ip) => tls::ServerName::Ip(IpAddr::V4(*ip)),
                Host::Ipv6(ip) => tls::ServerName::Ip(IpAddr::V6(*ip)),
            };
            let (mut session, facts) = tls::handshake(connection, &server_name, ALPN_HTTP_1_1)
                .await
                .map_err(|e| HttpError::Tls(at(&contacted, &e)))?;
            contacted.tls = Some(facts);
            http1::get(&mut session, url, headers, USER_AGENT, limits)
                .await
                .map_err(|e| after_connecting(&contacted, e))?
        } else {
            http1::get(&mut connection, url, headers, USER_AGENT, limits)
                .await
                .map_err(|e| after_connecting(&contacted, e))?
        };
        response.contacted = Some(contacted);
        Ok(response)
    };
    within(network, limits.timeout_ms, exchange)
        .await
        .unwrap_or(Err(HttpError::Timeout))
}

/// `what`, said of the address it happened at: a failed exchange's report
/// then still names the server that failed it.
fn at(contacted: &Contacted, what: &dyn std::fmt::Display) -> String {
    let address = SocketAddr::new(contacted.address, contacted.port);
    format!("{address}: {what}")
}

/// An error of the exchange on an open connection, naming its address.
fn after_connecting(contacted: &Contacted, error: HttpError) -> HttpError {
    match error {
        HttpError::Connect(why) => HttpError::Connect(at(contacted, &why)),
        HttpError::Protocol(why) => HttpError::Protocol(at(contacted, &why)),
        HttpError::Tls(why) => HttpError::Tls(at(contacted, &why)),
        // Refusals happen before anything is sent; a timeout has no text.
        other => other,
    }
}

/// A connection to `host:port`: a name resolved through the perspective's
/// resolvers, each address checked, IPv6 first (see the module
/// documentation). The returned [`Contacted`] has no TLS session yet.
pub async fn open<N: Network + ?Sized>(
    network: &N,
    host: &Host<&str>,
    port: u16,
    timeout_ms: u64,
) -> Result<(N::Connection, Contacted), HttpError> {
    let candidates: Vec<(IpAddr, Option<String>)> = match host {
        Host::Ipv4(ip) => vec![(IpAddr::V4(*ip), None)],
        Host::Ipv6(ip) => vec![(IpAddr::V6(*ip), None)],
        Host::Domain(name) => resolve(network, name)
            .await?
            .into_iter()
            .map(|(ip, resolver)| (ip, Some(resolver)))
            .collect(),
    };
    let policy = network.address_policy();
    let mut refusals = Vec::new();
    let mut allowed = Vec::new();
    for (ip, resolver) in candidates {
        match policy.check(ip) {
            Ok(()) => allowed.push((ip, resolver)),
            Err(refused) => refusals.push(refused.to_string()),
        }
    }
    let first_v6 = allowed.iter().find(|(ip, _)| ip.is_ipv6()).cloned();
    let first_v4 = allowed.iter().find(|(ip, _)| ip.is_ipv4()).cloned();
    let attempts: Vec<(IpAddr, Option<String>)> = first_v6.into_iter().chain(first_v4).collect();
    if attempts.is_empty() {
        return Err(HttpError::Refused(format!(
            "no address of {host} may be contacted: {}",
            refusals.join("; ")
        )));
    }
    let mut failures = Vec::new();
    let mut every_one_refused = true;
    let count = attempts.len();
    for (index, (ip, resolver)) in attempts.into_iter().enumerate() {
        let address = SocketAddr::new(ip, port);
        // The first of two attempts gets half of the timeout, so that the
        // fallback has a chance; the caller's own deadline bounds both.
        let budget = if index + 1 < count {
            timeout_ms / 2
        } else {
            timeout_ms
        };
        match within(network, budget, network.connect(address)).await {
            Some(Ok(connection)) => {
                let contacted = Contacted {
                    resolver,
                    address: ip,
                    port,
                    tls: None,
                };
                return Ok((connection, contacted));
            }
            Some(Err(ConnectError::NotPermitted(why))) => {
                failures.push(format!("{address}: not permitted: {why}"));
            }
            Some(Err(ConnectError::Failed(why))) => {
                every_one_refused = false;
                failures.push(format!("{address}: {why}"));
            }
            None => {
                every_one_refused = false;
                failures.push(format!("{address}: no connection within {budget} ms"));
            }
        }
    }
    let detail = failures.join("; ");
    if every_one_refused {
        Err(HttpError::Refused(detail))
    } else {
        Err(HttpError::Connect(detail))
    }
}

/// A and AAAA of `name` through the perspective's resolvers: each address,
/// IPv6 first, with the resolver that gave it (the two questions may be
/// answered by different resolvers when the first fails over).
async fn resolve<N: Network + ?Sized>(
    network: &N,
    name: &str,
) -> Result<Vec<(IpAddr, String)>, HttpError> {
    let (a, aaaa) = join(
        network.dns(name, RecordType::A),
        network.dns(name, RecordType::AAAA),
    )
    .await;
    let mut addresses: Vec<(IpAddr, String)> = Vec::new();
    let mut problems = Vec::new();
    for (rtype, answer) in [("AAAA", aaaa), ("A", a)] {
        match answer {
            Ok(answer) if answer.rcode == ResponseCode::NoError => {
                for ip in answer.records.iter().filter_map(crate::dns::ip_addr) {
                    if !addresses.iter().any(|(seen, _)| *seen == ip) {
                        addresses.push((ip, answer.resolver.clone()));
                    }
                }
            }
            Ok(answer) => problems.push(format!("{rtype}: {}", answer.rcode)),
            Err(e) => problems.push(format!("{rtype}: {e}")),
        }
    }
    if addresses.is_empty() {
        let detail = if problems.is_empty() {
            "no A or AAAA records".to_owned()
        } else {
            problems.join("; ")
        };
        return Err(HttpError::Connect(format!("resolving {name}: {detail}")));
    }
    Ok(addresses)
}

/// `work`'s output, or `None` if `ms` milliseconds pass first on the
/// network's clock (the work is then dropped, which closes its connection).
pub async fn within<N, F>(network: &N, ms: u64, work: F) -> Option<F::Output>
where
    N: Network + ?Sized,
    F: Future,
{
    if ms == 0 {
        return None;
    }
    let work = std::pin::pin!(work);
    let timer = std::pin::pin!(network.sleep(ms));
    match select(work, timer).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(((), _)) => None,
    }
}

#[cfg(test)]
pub(crate) mod fake_servers;
#[cfg(test)]
mod tests;
