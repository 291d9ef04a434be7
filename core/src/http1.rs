//! One HTTP/1.1 GET over a byte stream the caller has already connected:
//! the request the perspective sends, and the response read back within the
//! body limit. The stream is whatever reaches the address that was resolved
//! and checked (a Workers socket, a tokio `TcpStream`, a TLS session over
//! either), so the same client runs in the worker, the coordinator and the
//! tests. Parsing is `httparse`'s; deadlines are the caller's (this module
//! has no clock).
//!
//! # What is sent
//! `GET <path>?<query> HTTP/1.1`, then `Host` (from the URL: its host, and
//! its port when it is not the scheme's default), `User-Agent` and `Accept:
//! */*` unless the request's headers name them, `Connection: close`, then the
//! request's headers. A header name or value that could split the request
//! (CR, LF, NUL, or a name that is not an HTTP token) is refused before
//! anything is written.
//!
//! # What is read
//! The status line and headers (at most [`MAX_HEAD_BYTES`] bytes and
//! [`MAX_HEADERS`] headers; interim 1xx responses are skipped), then the
//! body: chunked, or `Content-Length` bytes, or up to the end of the stream
//! (where a TLS peer's close without close_notify also counts as the end).
//! At most `max_body_bytes` of it are kept; reading stops there and the
//! response says the body was cut. Every failure is an [`HttpError`]:
//! `Connect` when the stream itself fails, `Protocol` when what came back is
//! not HTTP/1.1 (or 1.0) as RFC 9112 writes it.

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use url::Url;

use crate::network::{HttpError, HttpLimits, HttpResponse, RequestHeaders};

/// The most bytes a response's status line and headers may take.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The most headers a response may have.
pub const MAX_HEADERS: usize = 100;

/// How many interim (1xx) responses may come before the final one.
const MAX_INTERIM_RESPONSES: usize = 8;

/// What the stream is read in.
const READ_CHUNK: usize = 8 * 1024;

/// Which ends of the stream end what is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Only a clean end (a read of 0 bytes).
    Clean,
    /// Also a TLS peer's close without close_notify.
    UncleanToo,
}

/// Sends one GET for `url` on `stream` and reads the response (see the
/// module documentation). `user_agent` is sent unless `headers` names one.
pub async fn get<S>(
    stream: &mut S,
    url: &Url,
    headers: &RequestHeaders,
    user_agent: &str,
    limits: &HttpLimits,
) -> Result<HttpResponse, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = request_bytes(url, headers, user_agent)?;
    stream.write_all(&request).await.map_err(connection_lost)?;
    stream.flush().await.map_err(connection_lost)?;
    let mut reader = Reader::new(stream);
    let mut interim = 0;
    let head = loop {
        let head = reader.head().await?;
        // 101 switches protocols, which a GET without `Upgrade` never asks.
        if (100..200).contains(&head.status) && head.status != 101 {
            interim += 1;
            if interim > MAX_INTERIM_RESPONSES {
                return Err(protocol("more than 8 interim (1xx) responses"));
            }
            continue;
        }
        break head;
    };
    let (body, body_truncated) = match body_framing(&head)? {
        Framing::None => (Vec::new(), false),
        Framing::Chunked => reader.chunked(limits.max_body_bytes).await?,
        Framing::Length(length) => reader.exact(length, limits.max_body_bytes).await?,
        Framing::UntilClose => reader.until_close(limits.max_body_bytes).await?,
    };
    Ok(HttpResponse {
        url: url.to_string(),
        contacted: None,
        status: head.status,
        location: head.header("location"),
        content_type: head.header("content-type"),
        body,
        body_truncated,
    })
}

/// The request's bytes (see the module documentation).
fn request_bytes(
    url: &Url,
    headers: &RequestHeaders,
    user_agent: &str,
) -> Result<Vec<u8>, HttpError> {
    let host = match url.host() {
        Some(host) => host.to_string(),
        None => return Err(HttpError::Refused(format!("{url} has no host"))),
    };
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let mut text = format!("GET {target} HTTP/1.1\r\nHost: {authority}\r\n");
    let named = |name: &str| headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    if !named("user-agent") {
        text.push_str(&format!("User-Agent: {user_agent}\r\n"));
    }
    if !named("accept") {
        text.push_str("Accept: */*\r\n");
    }
    text.push_str("Connection: close\r\n");
    for (name, value) in headers {
        if !is_token(name) || value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(HttpError::Refused(format!(
                "request header {name:?} cannot be sent as HTTP/1.1"
            )));
        }
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    Ok(text.into_bytes())
}

/// RFC 9110 section 5.6.2 `token`.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A status line and its headers.
#[derive(Debug)]
struct Head {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    /// The first header `name` as text, if it is visible ASCII.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
            .filter(|value| {
                value
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
            })
            .map(str::to_owned)
    }

    /// Every value of header `name`.
    fn all(&self, name: &str) -> impl Iterator<Item = &[u8]> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_slice())
    }
}

/// How the body is delimited (RFC 9112 section 6.3).
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    None,
    Chunked,
    Length(u64),
    UntilClose,
}

fn body_framing(head: &Head) -> Result<Framing, HttpError> {
    if head.status == 204 || head.status == 304 {
        return Ok(Framing::None);
    }
    let codings: Vec<String> = head
        .all("transfer-encoding")
        .flat_map(|value| value.split(|&b| b == b','))
        .map(|coding| String::from_utf8_lossy(coding).trim().to_ascii_lowercase())
        .filter(|coding| !coding.is_empty())
        .collect();
    if let Some(last) = codings.last() {
        // A response with both is framed by Transfer-Encoding (RFC 9112
        // section 6.3, item 3); only chunked frames a body we can read.
        return if last == "chunked" {
            Ok(Framing::Chunked)
        } else {
            Err(protocol(&format!(
                "transfer coding {last:?} is not chunked; the body cannot be framed"
            )))
        };
    }
    let mut lengths = head.all("content-length").map(|value| {
        std::str::from_utf8(value)
            .ok()
            .map(str::trim)
            .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|text| text.parse::<u64>().ok())
    });
    match lengths.next() {
        None => Ok(Framing::UntilClose),
        Some(None) => Err(protocol("Content-Length is not a number")),
        Some(Some(length)) => {
            if lengths.any(|other| other != Some(length)) {
                return Err(protocol("Content-Length headers disagree"));
            }
            Ok(Framing::Length(length))
        }
    }
}

/// Buffered reading of one response from the stream.
struct Reader<'a, S> {
    stream: &'a mut S,
    buffer: Vec<u8>,
    /// The stream has ended.
    ended: bool,
}

impl<'a, S: AsyncRead + Unpin> Reader<'a, S> {
    fn new(stream: &'a mut S) -> Self {
        Self {
            stream,
            buffer: Vec::new(),
            ended: false,
        }
    }

    /// Reads more into the buffer; `false` at the end of the stream.
    async fn fill(&mut self) -> Result<bool, HttpError> {
        self.fill_until(End::Clean).await
    }

    async fn fill_until(&mut self, end: End) -> Result<bool, HttpError> {
        if self.ended {
            return Ok(false);
        }
        let mut chunk = [0u8; READ_CHUNK];
        let read = match self.stream.read(&mut chunk).await {
            Ok(read) => read,
            // rustls's word for a TLS peer that closed without close_notify.
            Err(e) if end == End::UncleanToo && e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(connection_lost(e)),
        };
        if read == 0 {
            self.ended = true;
            return Ok(false);
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(true)
    }

    /// The next status line and headers.
    async fn head(&mut self) -> Result<Head, HttpError> {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut slots);
            match response.parse(&self.buffer) {
                Ok(httparse::Status::Complete(used)) if used > MAX_HEAD_BYTES => {
                    return Err(protocol(&format!(
                        "the response head is longer than {MAX_HEAD_BYTES} bytes"
                    )));
                }
                Ok(httparse::Status::Complete(used)) => {
                    let status = response
                        .code
                        .ok_or_else(|| protocol("the status line has no code"))?;
                    // HTTP/1.0 answers too (certbot's standalone server
                    // and Python's http.server send it), as Boulder reads
                    // them; its framing is the same rules' subset.
                    if !matches!(response.version, Some(0 | 1)) {
                        return Err(protocol("the response is not HTTP/1.x"));
                    }
                    let headers = response
                        .headers
                        .iter()
                        .map(|h| (h.name.to_owned(), h.value.to_vec()))
                        .collect();
                    self.buffer.drain(..used);
                    return Ok(Head { status, headers });
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(protocol(&format!("more than {MAX_HEADERS} headers")));
                }
                Err(e) => return Err(protocol(&format!("unreadable response head: {e}"))),
            }
            if self.buffer.len() > MAX_HEAD_BYTES {
                return Err(protocol(&format!(
                    "the response head is longer than {MAX_HEAD_BYTES} bytes"
                )));
            }
            if !self.fill().await? {
                return Err(protocol(
                    "the connection closed before the response head ended",
                ));
            }
        }
    }

    /// `length` body bytes, keeping at most `limit`.
    async fn exact(&mut self, length: u64, limit: usize) -> Result<(Vec<u8>, bool), HttpError> {
        let wanted = usize::try_from(length).unwrap_or(usize::MAX);
        let keep = wanted.min(limit);
        while self.buffer.len() < keep {
            if !self.fill().await? {
                return Err(protocol(&format!(
                    "the connection closed after {} of {length} body bytes",
                    self.buffer.len()
                )));
            }
        }
        let body = self.buffer[..keep].to_vec();
        Ok((body, wanted > limit))
    }

    /// The body up to the end of the stream, keeping at most `limit`.
    async fn until_close(&mut self, limit: usize) -> Result<(Vec<u8>, bool), HttpError> {
        while self.buffer.len() <= limit {
            // Such a body has no length to fall short of, so a TLS end
            // without close_notify ends it, as browsers and Go's client read
            // it; a framed body or a head cut that way is still a failure.
            if !self.fill_until(End::UncleanToo).await? {
                return Ok((std::mem::take(&mut self.buffer), false));
            }
        }
        self.buffer.truncate(limit);
        Ok((std::mem::take(&mut self.buffer), true))
    }

    /// A chunked body (RFC 9112 section 7.1), keeping at most `limit` bytes
    /// of its data; trailers are not read.
    async fn chunked(&mut self, limit: usize) -> Result<(Vec<u8>, bool), HttpError> {
        let mut body = Vec::new();
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buffer) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.buffer.drain(..used);
                        break size;
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.buffer.len() > MAX_HEAD_BYTES {
                            return Err(protocol("a chunk size line is too long"));
                        }
                        if !self.fill().await? {
                            return Err(protocol("the connection closed inside a chunked body"));
                        }
                    }
                    Err(_) => return Err(protocol("a chunk size is not hexadecimal")),
                }
            };
            if size == 0 {
                return Ok((body, false));
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let room = limit.saturating_sub(body.len());
            // The chunk's data and the CRLF after it.
            let needed = size.min(room);
            while self.buffer.len() < needed {
                if !self.fill().await? {
                    return Err(protocol("the connection closed inside a chunk"));
                }
            }
            body.extend_from_slice(&self.buffer[..needed]);
            if size > room {
                return Ok((body, true));
            }
            self.buffer.drain(..needed);
            while self.buffer.len() < 2 {
                if !self.fill().await? {
                    return Err(protocol("the connection closed inside a chunk"));
                }
            }
            if &self.buffer[..2] != b"\r\n" {
                return Err(protocol("a chunk is longer than its size says"));
            }
            self.buffer.drain(..2);
        }
    }
}

fn protocol(detail: &str) -> HttpError {
    HttpError::Protocol(detail.to_owned())
}

fn connection_lost(error: std::io::Error) -> HttpError {
    HttpError::Connect(format!("the connection failed: {error}"))
}

#[cfg(test)]
mod tests;
