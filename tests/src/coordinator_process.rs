//! `mpic serve` as a child process on a loopback port, for end-to-end tests
//! of the HTTP API as an operator runs it. Dropping the handle kills the
//! process, also when a test panics.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::free_port;
use crate::mpic_binary::{MpicBinaryError, mpic_binary};

/// How long `mpic serve` may take to answer `GET /healthz`.
const START_DEADLINE: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a stopping server may take to finish after SIGTERM before it is
/// killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Why the coordinator could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorProcessError {
    #[error(transparent)]
    Binary(#[from] MpicBinaryError),
    #[error("cannot prepare or run the coordinator: {0}")]
    Io(#[from] std::io::Error),
    #[error("`mpic keygen --api-key` printed no {0} line: {1}")]
    Keygen(&'static str, String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("mpic serve exited before serving ({status}); its log:\n{log}")]
    Exited { status: String, log: String },
    #[error("mpic serve did not answer /healthz within {0:?}; its log:\n{1}")]
    Timeout(Duration, String),
    #[error("cannot signal mpic serve: {0}")]
    Signal(#[from] nix::Error),
}

/// An API key and what goes into `[[api.client]] key_sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub key: String,
    pub key_sha256: String,
}

/// A fresh API key from `mpic keygen --api-key`, as an operator makes one.
pub fn new_api_key() -> Result<ApiKey, CoordinatorProcessError> {
    let output = Command::new(mpic_binary()?)
        .args(["keygen", "--api-key"])
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let field = |label: &'static str| {
        text.lines()
            .find_map(|line| line.strip_prefix(label))
            .map(|rest| rest.trim().to_owned())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| CoordinatorProcessError::Keygen(label, text.clone()))
    };
    Ok(ApiKey {
        key: field("api key:")?,
        key_sha256: field("key_sha256:")?,
    })
}

/// A running `mpic serve`.
pub struct CoordinatorProcess {
    child: Child,
    addr: SocketAddr,
    log_path: PathBuf,
    config_path: PathBuf,
    log_filter: String,
    args: Vec<String>,
    /// Holds the configuration and the log; removed on drop.
    _dir: tempfile::TempDir,
}

impl CoordinatorProcess {
    /// Writes `config_toml` to a temporary directory and runs `mpic serve
    /// --config <it> --listen 127.0.0.1:<free port>` (the file's `[api]
    /// listen` is overridden) with `RUST_LOG=<log_filter>`, stderr to a log
    /// file; returns once `GET /healthz` answers 200.
    pub async fn start(
        config_toml: &str,
        log_filter: &str,
    ) -> Result<Self, CoordinatorProcessError> {
        Self::start_with_args(config_toml, log_filter, &[]).await
    }

    /// [`CoordinatorProcess::start`] with more `mpic serve` arguments (the
    /// loopback test flags of a `[primary]`, say).
    pub async fn start_with_args(
        config_toml: &str,
        log_filter: &str,
        args: &[String],
    ) -> Result<Self, CoordinatorProcessError> {
        let dir = tempfile::Builder::new().prefix("mpic-serve-").tempdir()?;
        let config_path = dir.path().join("mpic.toml");
        std::fs::write(&config_path, config_toml)?;
        let log_path = dir.path().join("serve.log");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let child = spawn(&config_path, &log_path, addr, log_filter, args)?;
        let mut process = Self {
            child,
            addr,
            log_path,
            config_path,
            log_filter: log_filter.to_owned(),
            args: args.to_vec(),
            _dir: dir,
        };
        process.wait_until_serving().await?;
        Ok(process)
    }

    /// The configuration file it runs with (beside it: the default SQLite
    /// evidence store).
    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    /// `kill -9`: no shutdown, no flush, requests in flight cut off.
    pub fn kill_hard(&mut self) -> Result<ExitStatus, CoordinatorProcessError> {
        self.child.kill()?;
        Ok(self.child.wait()?)
    }

    /// Starts it again (after [`CoordinatorProcess::kill_hard`] or a stop)
    /// with the same configuration, address and log (appended).
    pub async fn restart(&mut self) -> Result<(), CoordinatorProcessError> {
        if self.child.try_wait()?.is_none() {
            self.child.kill()?;
            self.child.wait()?;
        }
        self.child = spawn(
            &self.config_path,
            &self.log_path,
            self.addr,
            &self.log_filter,
            &self.args,
        )?;
        self.wait_until_serving().await
    }

    async fn wait_until_serving(&mut self) -> Result<(), CoordinatorProcessError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("{}/healthz", self.base_url());
        let started = Instant::now();
        while started.elapsed() < START_DEADLINE {
            if let Some(status) = self.child.try_wait()? {
                return Err(CoordinatorProcessError::Exited {
                    status: status.to_string(),
                    log: self.log(),
                });
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status() == reqwest::StatusCode::OK
            {
                return Ok(());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Err(CoordinatorProcessError::Timeout(START_DEADLINE, self.log()))
    }

    /// `http://127.0.0.1:<port>`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id (for reading `/proc/<pid>/...`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The log's size in bytes.
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log_path).map_or(0, |m| m.len())
    }

    /// Sends SIGTERM (finish the requests in flight, then exit) and waits up
    /// to [`STOP_GRACE`]; kills the process if it is still running then.
    /// Returns how it exited.
    pub async fn stop(mut self) -> Result<ExitStatus, CoordinatorProcessError> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let pid = i32::try_from(self.child.id())
            .map_err(|_| std::io::Error::other("process id out of range"))?;
        kill(Pid::from_raw(pid), Signal::SIGTERM)?;
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        self.child.kill()?;
        Ok(self.child.wait()?)
    }
}

/// `mpic serve --config CONFIG --listen ADDR ARGS`, its output appended to
/// `log_path`.
fn spawn(
    config: &std::path::Path,
    log_path: &std::path::Path,
    addr: SocketAddr,
    log_filter: &str,
    args: &[String],
) -> Result<Child, CoordinatorProcessError> {
    let log = File::options().create(true).append(true).open(log_path)?;
    Ok(Command::new(mpic_binary()?)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--listen")
        .arg(addr.to_string())
        .args(args)
        .env_remove("MPIC_CONFIG")
        .env("RUST_LOG", log_filter)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?)
}

impl Drop for CoordinatorProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
