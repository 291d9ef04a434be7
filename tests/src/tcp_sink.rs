//! A loopback TCP port that accepts connections and counts them: closing
//! each at once (the cheapest way to prove a perspective made, or did not
//! make, an outbound connection), or holding each open without a byte (a
//! perspective that hangs).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Stops accepting when dropped.
pub struct TcpSink {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TcpSink {
    /// Accepts and closes at once.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(false).await
    }

    /// Accepts and never answers; connections close when the sink drops.
    pub async fn start_holding() -> std::io::Result<Self> {
        Self::start_with(true).await
    }

    async fn start_with(hold: bool) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                if hold {
                    // Bounded: a test makes a handful of calls.
                    if held.len() < 1024 {
                        held.push(stream);
                    }
                } else {
                    drop(stream);
                }
            }
        });
        Ok(Self {
            port,
            accepted,
            task,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for TcpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
