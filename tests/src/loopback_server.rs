//! An axum server on a loopback address, stopped when its handle is dropped.
//!
//! Stopping is graceful: the listener closes, idle connections close, and
//! handlers that wait on purpose (slow bodies, hung answers) watch the
//! [`StopSignal`] and give up at once. A handler that still runs after
//! [`STOP_GRACE`] is abandoned, so stopping is bounded.

use std::future::IntoFuture;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a stopping server waits for in-flight requests.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Tells handlers the server is stopping. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Resolves once the server is stopping (or its handle is gone).
    pub async fn stopped(&self) {
        let mut receiver = self.0.clone();
        // An error means the sender is gone: that is a stop too.
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }

    /// Whether the server is stopping (or its handle is gone).
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Sleeps for `duration` unless the server stops first; `true` if the
    /// whole duration passed.
    pub async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            () = self.stopped() => false,
        }
    }
}

/// The sending half of a [`StopSignal`], owned by the server handle.
#[derive(Debug)]
pub struct StopSwitch(watch::Sender<bool>);

impl StopSwitch {
    fn flip(&self) {
        // Nobody listening means nothing to stop.
        let _ = self.0.send(true);
    }
}

/// A new switch and the signal it controls. Handlers get the signal (in
/// their state) before the server starts, so it is made first.
pub fn stop_pair() -> (StopSwitch, StopSignal) {
    let (sender, receiver) = watch::channel(false);
    (StopSwitch(sender), StopSignal(receiver))
}

/// A running server. Dropping it starts a graceful stop and returns at once;
/// [`LoopbackServer::stop`] waits for it.
#[derive(Debug)]
pub struct LoopbackServer {
    addr: SocketAddr,
    switch: StopSwitch,
    task: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Binds `ip:port` (port 0 for a free one) and serves `router` on it.
    ///
    /// `ip` must be a loopback address: fixtures never listen beyond the
    /// machine. On Linux all of 127.0.0.0/8 is loopback, so 127.0.0.2 can
    /// stand for a second host.
    pub async fn serve(
        ip: IpAddr,
        port: u16,
        router: Router,
        switch: StopSwitch,
        signal: StopSignal,
    ) -> io::Result<Self> {
        if !ip.is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{ip} is not a loopback address"),
            ));
        }
        let listener = tokio::net::TcpListener::bind((ip, port)).await?;
        let addr = listener.local_addr()?;
        let graceful_signal = signal.clone();
        let serving = axum::serve(listener, router)
            .with_graceful_shutdown(async move { graceful_signal.stopped().await })
            .into_future();
        let task = tokio::spawn(async move {
            let deadline = async {
                signal.stopped().await;
                tokio::time::sleep(STOP_GRACE).await;
            };
            tokio::select! {
                // A serve error ends the server; requests then fail to
                // connect, which is what a test of a dead server wants.
                _ = serving => {}
                () = deadline => {}
            }
        });
        Ok(Self {
            addr,
            switch,
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits until it has (at most [`STOP_GRACE`] for
    /// in-flight requests).
    pub async fn stop(mut self) {
        self.switch.flip();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.switch.flip();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::net::Ipv4Addr;

    use axum::routing::get;

    use super::*;

    #[tokio::test]
    async fn refuses_non_loopback_addresses() {
        for ip in [
            IpAddr::from(Ipv4Addr::UNSPECIFIED),
            IpAddr::from([192, 0, 2, 1]),
        ] {
            let (switch, signal) = stop_pair();
            let err = LoopbackServer::serve(ip, 0, Router::new(), switch, signal)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{ip}");
        }
    }

    #[tokio::test]
    async fn stop_closes_the_port_and_wakes_waiting_handlers() {
        let (switch, signal) = stop_pair();
        let waiting = signal.clone();
        let router = Router::new().route(
            "/wait",
            get(move || async move {
                let slept = waiting.sleep(Duration::from_secs(60)).await;
                format!("{slept}")
            }),
        );
        let server = LoopbackServer::serve(Ipv4Addr::LOCALHOST.into(), 0, router, switch, signal)
            .await
            .unwrap();
        let addr = server.addr();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let pending = tokio::spawn(client.get(format!("http://{addr}/wait")).send());
        tokio::time::sleep(Duration::from_millis(200)).await;

        let started = std::time::Instant::now();
        server.stop().await;
        assert!(started.elapsed() < STOP_GRACE, "stop waited for the grace");
        let response = pending.await.unwrap().unwrap();
        assert_eq!(response.text().await.unwrap(), "false");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
