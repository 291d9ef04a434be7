//! A loopback TCP server that misbehaves below HTTP, where an axum fixture
//! cannot: it resets connections, answers bytes that are not HTTP, drips a
//! response one byte at a time, or cuts a response short. It can also relay
//! faithfully to another server, so a test can put it in front of an honest
//! fixture (a perspective's DoH resolver, say) and turn it hostile at run
//! time with [`HostileTcp::set_behaviour`].
//!
//! Before misbehaving, each connection reads the request head (up to the
//! blank line, at most [`MAX_REQUEST_HEAD`] bytes, for at most
//! [`REQUEST_READ_TIMEOUT`]), so the client has sent its request and is
//! waiting for the answer when the fault hits.
//!
//! Bounded: at most [`MAX_CONNECTIONS`] connections at once (more are closed
//! at once), a misbehaving connection lives at most [`MAX_CONNECTION_LIFE`],
//! and dropping the server closes its port and every connection.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::net::Ipv4Addr;
//! use mpic_tests::hostile_tcp::{Behaviour, HostileTcp};
//! let server = HostileTcp::start(Ipv4Addr::LOCALHOST, 0, Behaviour::reset()).await?;
//! // Every request to http://127.0.0.1:PORT/ now ends in a TCP reset.
//! server.set_behaviour(Behaviour::garbage());
//! # Ok(()) }
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Most request-head bytes read before misbehaving.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// Longest wait for the request head; then the fault hits anyway.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a misbehaving connection lives (a drip or a hold included).
pub const MAX_CONNECTION_LIFE: Duration = Duration::from_secs(120);
/// Most connections open at once; more are closed as soon as accepted.
pub const MAX_CONNECTIONS: usize = 256;

/// Bytes that are not HTTP (nor anything else): what [`Behaviour::garbage`]
/// answers.
pub const GARBAGE: &[u8] =
    b"\x00\xff\x13\x37SSH-2.0-definitely-not-http\r\n\x1b[2J\xde\xad\xbe\xef\r\n\r\n";

/// What the server does with each new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Relays bytes both ways to this address, untouched. Relayed
    /// connections close when the behaviour changes, so that a client's
    /// kept-alive connection does not carry the old behaviour on.
    Relay(SocketAddr),
    /// Writes `bytes` at once, then ends the connection as `end` says.
    Reply { bytes: Vec<u8>, end: End },
    /// Writes `bytes` one byte at a time, `interval` apart, then ends the
    /// connection as `end` says (cut off at [`MAX_CONNECTION_LIFE`]).
    Drip {
        bytes: Vec<u8>,
        interval: Duration,
        end: End,
    },
}

/// How a misbehaving connection ends once its bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// An orderly close (FIN): the client sees the end of the stream.
    Close,
    /// An abortive close (`SO_LINGER` 0): the client sees a TCP reset.
    Reset,
    /// Open, without another byte, until [`MAX_CONNECTION_LIFE`] passes or
    /// the server stops.
    Hold,
}

impl Behaviour {
    /// Reads the request, then resets the connection without a byte.
    pub fn reset() -> Self {
        Behaviour::Reply {
            bytes: Vec::new(),
            end: End::Reset,
        }
    }

    /// Reads the request, answers [`GARBAGE`], closes.
    pub fn garbage() -> Self {
        Behaviour::Reply {
            bytes: GARBAGE.to_vec(),
            end: End::Close,
        }
    }

    /// Answers `bytes` one byte every `interval`, then holds the connection
    /// open: a response that never completes.
    pub fn drip(bytes: impl Into<Vec<u8>>, interval: Duration) -> Self {
        Behaviour::Drip {
            bytes: bytes.into(),
            interval,
            end: End::Hold,
        }
    }

    /// Answers `bytes`, then closes (FIN): with a head that promises more
    /// body than `bytes` holds, a response cut short.
    pub fn cut_short(bytes: impl Into<Vec<u8>>) -> Self {
        Behaviour::Reply {
            bytes: bytes.into(),
            end: End::Close,
        }
    }
}

/// A running hostile server on one loopback address. Dropping it closes the
/// port and every connection.
pub struct HostileTcp {
    addr: SocketAddr,
    behaviour: watch::Sender<Behaviour>,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl HostileTcp {
    /// Listens on `ip:port` (`ip` loopback; port 0 for a free one; the same
    /// port as an HTTP fixture on another loopback address is fine).
    pub async fn start(ip: Ipv4Addr, port: u16, behaviour: Behaviour) -> io::Result<Self> {
        if !ip.is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{ip} is not a loopback address"),
            ));
        }
        let listener = TcpListener::bind((ip, port)).await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = watch::channel(behaviour);
        let accepted = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(accept_loop(listener, receiver, Arc::clone(&accepted)));
        Ok(Self {
            addr,
            behaviour: sender,
            accepted,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://<ip>:<port><path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What new connections get from now on. If that is a change, relayed
    /// connections close; setting the current behaviour again changes
    /// nothing (a client's kept-alive relay stays up).
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.behaviour.send_if_modified(|current| {
            let changed = *current != behaviour;
            *current = behaviour;
            changed
        });
    }

    /// The current behaviour.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour.borrow().clone()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for HostileTcp {
    fn drop(&mut self) {
        // The accept task owns the connections' JoinSet: aborting it drops
        // the set, which aborts them all and closes their sockets.
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    behaviour: watch::Receiver<Behaviour>,
    accepted: Arc<AtomicUsize>,
) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        accepted.fetch_add(1, Ordering::SeqCst);
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            drop(stream);
            continue;
        }
        // Read and mark seen in one step, so a relay closes on any later change.
        let mut changes = behaviour.clone();
        let now = changes.borrow_and_update().clone();
        connections.spawn(async move {
            match now {
                Behaviour::Relay(target) => relay(stream, target, changes).await,
                hostile => {
                    // Cut off at the bound; the socket then closes (FIN).
                    let _ =
                        tokio::time::timeout(MAX_CONNECTION_LIFE, misbehave(stream, hostile)).await;
                }
            }
        });
    }
}

async fn relay(mut client: TcpStream, target: SocketAddr, mut changes: watch::Receiver<Behaviour>) {
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        // A change (or the server going away) closes the relay.
        _ = changes.changed() => {}
    }
}

async fn misbehave(mut stream: TcpStream, behaviour: Behaviour) {
    read_request_head(&mut stream).await;
    let (written, end) = match behaviour {
        Behaviour::Relay(_) => return,
        Behaviour::Reply { bytes, end } => (write_all(&mut stream, &bytes).await, end),
        Behaviour::Drip {
            bytes,
            interval,
            end,
        } => (drip(&mut stream, &bytes, interval).await, end),
    };
    if !written {
        // The client hung up: nothing left to misbehave towards.
        return;
    }
    match end {
        End::Close => {
            let _ = stream.shutdown().await;
        }
        End::Reset => {
            // Closing with a zero linger sends RST instead of FIN (and never
            // blocks, unlike a non-zero linger).
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        End::Hold => tokio::time::sleep(MAX_CONNECTION_LIFE).await,
    }
}

/// Reads until the blank line ending a request head, the size bound, the
/// time bound, or the end of the stream.
async fn read_request_head(stream: &mut TcpStream) {
    let reading = async {
        let mut head = Vec::new();
        let mut chunk = [0u8; 2048];
        while head.len() < MAX_REQUEST_HEAD {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(REQUEST_READ_TIMEOUT, reading).await;
}

async fn write_all(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok()
}

async fn drip(stream: &mut TcpStream, bytes: &[u8], interval: Duration) -> bool {
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        if !write_all(stream, std::slice::from_ref(byte)).await {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Instant;

    use super::*;

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";

    async fn exchange(addr: SocketAddr) -> (Vec<u8>, io::Result<()>) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(REQUEST).await.unwrap();
        let mut received = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => return (received, Ok(())),
                Ok(n) => received.extend_from_slice(&chunk[..n]),
                Err(e) => return (received, Err(e)),
            }
        }
    }

    #[tokio::test]
    async fn each_behaviour_does_what_it_says() {
        let server = HostileTcp::start(Ipv4Addr::LOCALHOST, 0, Behaviour::reset())
            .await
            .unwrap();

        let (received, ending) = exchange(server.addr()).await;
        assert!(received.is_empty(), "{received:?}");
        assert_eq!(
            ending.unwrap_err().kind(),
            io::ErrorKind::ConnectionReset,
            "reset"
        );

        server.set_behaviour(Behaviour::garbage());
        let (received, ending) = exchange(server.addr()).await;
        assert_eq!(received, GARBAGE);
        ending.unwrap();

        server.set_behaviour(Behaviour::cut_short(
            "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort",
        ));
        let (received, ending) = exchange(server.addr()).await;
        assert!(received.ends_with(b"\r\n\r\nshort"), "{received:?}");
        ending.unwrap();

        server.set_behaviour(Behaviour::Drip {
            bytes: b"abcd".to_vec(),
            interval: Duration::from_millis(100),
            end: End::Close,
        });
        let started = Instant::now();
        let (received, ending) = exchange(server.addr()).await;
        assert_eq!(received, b"abcd");
        ending.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(server.accepted(), 4);
    }

    #[tokio::test]
    async fn a_dripped_response_never_completes_and_a_drop_ends_it() {
        let server = HostileTcp::start(
            Ipv4Addr::LOCALHOST,
            0,
            Behaviour::drip("HTTP/1.1 200 OK\r\n", Duration::from_millis(20)),
        )
        .await
        .unwrap();
        let addr = server.addr();
        let pending = tokio::spawn(exchange(addr));
        let waited = tokio::time::timeout(Duration::from_secs(1), async {
            while server.accepted() == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(600)).await;
        })
        .await;
        assert!(waited.is_ok());
        assert!(!pending.is_finished(), "the drip ended by itself");
        drop(server);
        let (received, _) = tokio::time::timeout(Duration::from_secs(5), pending)
            .await
            .expect("dropping the server ends its connections")
            .unwrap();
        assert_eq!(received, b"HTTP/1.1 200 OK\r\n");
        assert!(TcpStream::connect(addr).await.is_err(), "port still open");
    }

    #[tokio::test]
    async fn relays_until_the_behaviour_changes() {
        let upstream = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let upstream_addr = upstream.local_addr().unwrap();
        let echo = tokio::spawn(async move {
            let (mut stream, _) = upstream.accept().await.unwrap();
            let mut chunk = [0u8; 64];
            loop {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if stream.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let server = HostileTcp::start(Ipv4Addr::LOCALHOST, 0, Behaviour::Relay(upstream_addr))
            .await
            .unwrap();
        let mut client = TcpStream::connect(server.addr()).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");

        // The same behaviour again is no change: the relay stays up.
        server.set_behaviour(Behaviour::Relay(upstream_addr));
        client.write_all(b"pong").await.unwrap();
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"pong");

        server.set_behaviour(Behaviour::reset());
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest))
            .await
            .expect("a behaviour change closes relayed connections");
        assert!(read.is_ok_and(|n| n == 0), "{rest:?}");
        echo.await.unwrap();
    }

    #[tokio::test]
    async fn refuses_non_loopback_addresses() {
        let err = HostileTcp::start(Ipv4Addr::UNSPECIFIED, 0, Behaviour::reset())
            .await
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
