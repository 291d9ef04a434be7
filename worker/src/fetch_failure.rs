//! Why one DoH `fetch` failed, as mpic-core's typed error with a detail a
//! report reader can act on (`fetch` carries DoH only; challenge exchanges
//! go over sockets).
//!
//! workerd's `fetch` rejects with a bare message and no kind: "Network
//! connection lost." for a reset or closed connection, and "internal error;
//! reference = <id>" when it keeps the cause to its own log (a response that
//! is not HTTP is one such cause: the log then says "Invalid response status
//! line"). The phase is ours to tell: whether `fetch` itself rejected (no
//! response head) or the body stopped before its end. A body cut short is
//! never a complete response, whatever bytes came before the cut.

use mpic_core::network::DnsError;

/// How workerd words a failure whose cause it logs but does not expose.
const OPAQUE_PREFIX: &str = "internal error";

/// One failed exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchFailure {
    /// The deadline passed first.
    Timeout,
    /// `fetch` rejected: no response head arrived (or none workerd accepted).
    NoResponse(String),
    /// The response head arrived, then reading the body failed.
    BodyCut(String),
}

impl FetchFailure {
    /// `fetch` rejected with `message` (a JS error's text).
    pub fn no_response(message: &str) -> Self {
        FetchFailure::NoResponse(plain(message))
    }

    /// Reading the body failed with `message` (a JS error's text).
    pub fn body_cut(message: &str) -> Self {
        FetchFailure::BodyCut(plain(message))
    }

    /// For a DoH exchange: every failure but the deadline is a transport
    /// failure (no usable response), its detail saying which.
    pub fn into_dns_error(self) -> DnsError {
        match self {
            FetchFailure::Timeout => DnsError::Timeout,
            FetchFailure::NoResponse(message) if is_opaque(&message) => {
                DnsError::Transport(opaque_detail(&message))
            }
            FetchFailure::NoResponse(message) => DnsError::Transport(message),
            FetchFailure::BodyCut(message) => DnsError::Transport(body_cut_detail(&message)),
        }
    }
}

/// The message without the JS error-class prefix (`Error: `, `TypeError: `).
fn plain(message: &str) -> String {
    let message = message.trim();
    match message.split_once(": ") {
        Some((class, rest)) if class.ends_with("Error") && !class.contains(' ') => rest.to_owned(),
        _ => message.to_owned(),
    }
}

fn is_opaque(message: &str) -> bool {
    message.starts_with(OPAQUE_PREFIX)
}

fn opaque_detail(message: &str) -> String {
    format!(
        "no usable response: the Workers runtime refused the exchange and logged the cause only \
         in its own log, e.g. a response that is not HTTP ({message})"
    )
}

fn body_cut_detail(message: &str) -> String {
    format!("response body cut short: {message}")
}

#[cfg(test)]
mod tests;
