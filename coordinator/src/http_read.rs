//! What the coordinator's reqwest clients read back from a peer (a
//! perspective, a DoH resolver): a body within a byte limit, a header as
//! text, and a failure with every cause it carries.

/// A body read up to a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedBody {
    /// At most the limit's worth of bytes.
    pub bytes: Vec<u8>,
    /// The peer sent more than the limit; the rest was not read.
    pub truncated: bool,
}

/// Reads `response`'s body, keeping at most `limit` bytes. Reading stops at
/// the limit (dropping the response stops the transfer), so a peer cannot
/// make us read more, however much it sends.
pub async fn read_bounded(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<BoundedBody, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(bytes.len());
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(BoundedBody {
                bytes,
                truncated: true,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(BoundedBody {
        bytes,
        truncated: false,
    })
}

/// The header `name` as text, if present and visible ASCII.
pub fn header_text(
    response: &reqwest::Response,
    name: reqwest::header::HeaderName,
) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `error` with its causes: reqwest's top-level message hides what failed
/// (TLS, DNS, connection refused).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
