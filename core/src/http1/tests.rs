#![allow(clippy::unwrap_used, clippy::expect_used)]

use tokio::io::{
    AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, DuplexStream, duplex,
};

use super::*;

const AGENT: &str = "mpic-test/1";

/// Runs one GET against a server that answers `response` and then closes
/// its side; returns the result and the request the server received.
fn exchange(
    url: &str,
    headers: &RequestHeaders,
    limits: &HttpLimits,
    response: &[u8],
) -> (Result<HttpResponse, HttpError>, String) {
    pollster::block_on(async {
        let (mut client, mut server): (DuplexStream, DuplexStream) = duplex(1 << 20);
        server.write_all(response).await.unwrap();
        server.shutdown().await.unwrap();
        let url = Url::parse(url).unwrap();
        let result = get(&mut client, &url, headers, AGENT, limits).await;
        drop(client);
        let mut request = Vec::new();
        server.read_to_end(&mut request).await.unwrap();
        (result, String::from_utf8(request).unwrap())
    })
}

fn fetch(response: &[u8]) -> Result<HttpResponse, HttpError> {
    exchange(
        "http://example.com/",
        &RequestHeaders::new(),
        &HttpLimits::default(),
        response,
    )
    .0
}

#[test]
fn the_request_names_the_host_path_and_query_and_closes_the_connection() {
    let (result, request) = exchange(
        "http://Example.COM/.well-known/acme-challenge/t0k?x=1",
        &RequestHeaders::new(),
        &HttpLimits::default(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(result.unwrap().status, 200);
    assert_eq!(
        request,
        "GET /.well-known/acme-challenge/t0k?x=1 HTTP/1.1\r\nHost: example.com\r\n\
         User-Agent: mpic-test/1\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn a_port_other_than_the_schemes_is_in_the_host_header_and_ipv6_is_bracketed() {
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let none = RequestHeaders::new();
    let limits = HttpLimits::default();
    let (_, request) = exchange("http://example.com:8080/", &none, &limits, ok);
    assert!(
        request.contains("\r\nHost: example.com:8080\r\n"),
        "{request}"
    );
    let (_, request) = exchange("https://example.com:443/", &none, &limits, ok);
    assert!(request.contains("\r\nHost: example.com\r\n"), "{request}");
    let (_, request) = exchange("http://[::1]:8080/", &none, &limits, ok);
    assert!(request.contains("\r\nHost: [::1]:8080\r\n"), "{request}");
}

#[test]
fn the_requests_own_headers_replace_the_defaults() {
    let mut headers = RequestHeaders::new();
    headers.insert("user-agent".into(), "their-agent".into());
    headers.insert("X-Probe".into(), "1".into());
    let (_, request) = exchange(
        "http://example.com/",
        &headers,
        &HttpLimits::default(),
        b"HTTP/1.1 204 No Content\r\n\r\n",
    );
    assert!(!request.contains(AGENT), "{request}");
    assert!(
        request.contains("\r\nuser-agent: their-agent\r\n"),
        "{request}"
    );
    assert!(request.contains("\r\nX-Probe: 1\r\n"), "{request}");
}

#[test]
fn a_header_that_would_split_the_request_is_refused_before_anything_is_sent() {
    for (name, value) in [
        ("X-A", "1\r\nX-Injected: 2"),
        ("X-A", "nul\0"),
        ("X A", "1"),
        ("", "1"),
    ] {
        let mut headers = RequestHeaders::new();
        headers.insert(name.into(), value.into());
        let (result, request) = exchange(
            "http://example.com/",
            &headers,
            &HttpLimits::default(),
            b"HTTP/1.1 200 OK\r\n\r\n",
        );
        assert!(matches!(result, Err(HttpError::Refused(_))), "{name:?}");
        assert!(request.is_empty(), "{request}");
    }
}

#[test]
fn status_location_content_type_and_a_content_length_body_are_read() {
    let response = fetch(
        b"HTTP/1.1 302 Found\r\nLocation: https://example.net/x\r\n\
          Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
    )
    .unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(response.location.as_deref(), Some("https://example.net/x"));
    assert_eq!(response.content_type.as_deref(), Some("text/plain"));
    assert_eq!(response.body, b"hello");
    assert!(!response.body_truncated);
    assert_eq!(response.url, "http://example.com/");
}

#[test]
fn a_chunked_body_is_decoded_and_a_body_without_length_ends_with_the_stream() {
    let chunked = fetch(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\nTrailer: x\r\n\r\n",
    )
    .unwrap();
    assert_eq!(chunked.body, b"abcdefg");
    let until_close = fetch(b"HTTP/1.1 200 OK\r\n\r\nto the end").unwrap();
    assert_eq!(until_close.body, b"to the end");
    assert!(!until_close.body_truncated);
}

#[test]
fn at_most_the_limit_is_kept_and_the_cut_is_said() {
    let limits = HttpLimits {
        max_body_bytes: 4,
        ..HttpLimits::default()
    };
    let none = RequestHeaders::new();
    for response in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"[..],
        &b"HTTP/1.1 200 OK\r\n\r\n0123456789"[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n012\r\n7\r\n3456789\r\n0\r\n\r\n"[..],
    ] {
        let (result, _) = exchange("http://example.com/", &none, &limits, response);
        let response = result.unwrap();
        assert_eq!(response.body, b"0123");
        assert!(response.body_truncated);
    }
    // Exactly the limit is not a cut.
    let (result, _) = exchange(
        "http://example.com/",
        &none,
        &limits,
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n0123",
    );
    assert!(!result.unwrap().body_truncated);
}

#[test]
fn interim_responses_are_skipped_and_no_content_has_no_body() {
    let response =
        fetch(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"ok"[..])
    );
    let empty = fetch(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").unwrap();
    assert!(empty.body.is_empty());
}

#[test]
fn what_is_not_http_1_1_is_a_protocol_error() {
    let many_headers = format!(
        "HTTP/1.1 200 OK\r\n{}\r\n",
        "X-A: 1\r\n".repeat(MAX_HEADERS + 1)
    );
    let long_head = format!(
        "HTTP/1.1 200 OK\r\nX-A: {}\r\n\r\n",
        "a".repeat(MAX_HEAD_BYTES + 1)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()),
        (
            "closed in the head",
            b"HTTP/1.1 200 OK\r\nContent-Le".to_vec(),
        ),
        (
            "closed in the body",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc".to_vec(),
        ),
        (
            "bad length",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n".to_vec(),
        ),
        (
            "lengths disagree",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
        ),
        (
            "gzip framing",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
        ),
        (
            "bad chunk size",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        ),
        (
            "chunk longer than said",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n0\r\n\r\n".to_vec(),
        ),
        ("too many headers", many_headers.into_bytes()),
        ("head too long", long_head.into_bytes()),
        ("nothing at all", Vec::new()),
    ];
    for (what, response) in cases {
        let result = fetch(&response);
        assert!(
            matches!(result, Err(HttpError::Protocol(_))),
            "{what}: {result:?}"
        );
    }
}

#[test]
fn a_failing_stream_is_a_connection_failure() {
    let result = pollster::block_on(async {
        let (mut client, server) = duplex(64);
        // The server goes away before the request is written.
        drop(server);
        let url = Url::parse("http://example.com/").unwrap();
        get(
            &mut client,
            &url,
            &RequestHeaders::new(),
            AGENT,
            &HttpLimits::default(),
        )
        .await
    });
    assert!(matches!(result, Err(HttpError::Connect(_))), "{result:?}");
}

/// Bytes, then the error rustls gives when a TLS peer closes without
/// close_notify.
struct UncleanEnd(std::io::Cursor<Vec<u8>>);

impl AsyncRead for UncleanEnd {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let position = usize::try_from(self.0.position()).unwrap();
        let rest = &self.0.get_ref()[position..];
        if rest.is_empty() {
            return std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "peer closed connection without sending TLS close_notify",
            )));
        }
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        self.0.set_position(u64::try_from(position + n).unwrap());
        std::task::Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for UncleanEnd {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn over_unclean_end(response: &[u8]) -> Result<HttpResponse, HttpError> {
    pollster::block_on(async {
        let mut stream = UncleanEnd(std::io::Cursor::new(response.to_vec()));
        let url = Url::parse("https://example.com/").unwrap();
        get(
            &mut stream,
            &url,
            &RequestHeaders::new(),
            AGENT,
            &HttpLimits::default(),
        )
        .await
    })
}

/// A TLS server that closes without close_notify ends a body framed by the
/// connection's end (it has no length to fall short of, as browsers and
/// Go's client read it); a body with a length or chunks it cut short is
/// still a failure.
#[test]
fn an_unclean_tls_end_ends_a_body_without_length_but_never_a_framed_one() {
    let body = over_unclean_end(b"HTTP/1.1 200 OK\r\n\r\ntok.thumb").unwrap();
    assert_eq!(body.body, b"tok.thumb");
    let cut = over_unclean_end(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\ntok.thumb");
    assert!(matches!(cut, Err(HttpError::Connect(_))), "{cut:?}");
    let head_cut = over_unclean_end(b"HTTP/1.1 200 OK\r\nContent-Len");
    assert!(
        matches!(head_cut, Err(HttpError::Connect(_))),
        "{head_cut:?}"
    );
}

/// certbot's standalone server and Python's http.server answer HTTP/1.0;
/// Boulder reads them, and so do we.
#[test]
fn an_http_1_0_answer_is_read() {
    let response = fetch(b"HTTP/1.0 200 OK\r\nServer: BaseHTTP/0.6\r\n\r\ntok.thumb").unwrap();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"tok.thumb"[..])
    );
    let sized = fetch(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
    assert_eq!(sized.body, b"abc");
}
