//! Runs the real mpic-worker wasm under workerd, through `wrangler dev`, on a
//! loopback port.
//!
//! Each [`Perspective`] is its own `wrangler dev` process group with its own
//! port, inspector port, state directory and variables; dropping it kills the
//! whole group (wrangler and the workerd it spawned), also when a test panics.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::{free_port, repo_root};

/// How long `wrangler dev` may take to serve its first request. A cold start
/// on a loaded 2-core machine has been seen to take ~10 s.
const START_DEADLINE: Duration = Duration::from_secs(90);
const POLL_INTERVAL: Duration = Duration::from_millis(250);
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare the perspective: {0}")]
    Io(#[from] std::io::Error),
    #[error("the worker is not built: run scripts/build-worker (missing {0})")]
    NotBuilt(PathBuf),
    #[error("wrangler dev exited before serving ({status}); its log:\n{log}")]
    Exited { status: String, log: String },
    #[error("wrangler dev did not serve within {0:?}; its log:\n{1}")]
    Timeout(Duration, String),
}

/// What to start: a wrangler environment plus variable overrides.
#[derive(Debug, Clone, Default)]
pub struct PerspectiveSpec {
    /// `--env` of wrangler.toml; `None` for the top-level configuration.
    pub env: Option<String>,
    /// Variables (and local stand-ins for secrets), passed through an env file
    /// so that keys never appear on a command line.
    pub vars: BTreeMap<String, String>,
}

/// A running perspective. Dropping it stops the process group.
pub struct Perspective {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// Whether `response` is the worker's own: its identity, or the JSON error
/// of a misconfigured worker. Anything else on the port is another process
/// (another perspective's inspector or runtime socket that won the port
/// first), and this wrangler will fail to bind it.
async fn answered_by_the_worker(response: reqwest::Response) -> bool {
    let Ok(body) = response.json::<serde_json::Value>().await else {
        return false;
    };
    body.get("perspective_id").is_some() || body.get("error").is_some()
}

impl Perspective {
    /// Starts `wrangler dev` and waits until it answers `GET /v1/identity`
    /// with its identity or its JSON error (a misconfigured worker still
    /// counts as started; another process answering on the port does not).
    ///
    /// A free port is only free until someone binds it: when many perspectives
    /// start at once, wrangler can lose a port race and exit. That (and only
    /// that: an exit before serving) is retried on fresh ports, a bounded
    /// number of times.
    pub async fn start(spec: &PerspectiveSpec) -> Result<Self, StartError> {
        const ATTEMPTS: usize = 3;
        let mut attempt = 1;
        loop {
            match Self::start_once(spec).await {
                Err(StartError::Exited { status, log }) if attempt < ATTEMPTS => {
                    eprintln!(
                        "wrangler dev exited before serving ({status}); retrying on new ports. Its log:\n{log}"
                    );
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(spec: &PerspectiveSpec) -> Result<Self, StartError> {
        let root = repo_root();
        let wasm = root.join("worker/build/index_bg.wasm");
        if !wasm.exists() {
            return Err(StartError::NotBuilt(wasm));
        }
        let dir = tempfile::Builder::new().prefix("mpic-workerd-").tempdir()?;
        let env_file = dir.path().join("vars.env");
        let mut lines = String::new();
        for (key, value) in &spec.vars {
            lines.push_str(&format!("{key}={value}\n"));
        }
        std::fs::write(&env_file, lines)?;

        let port = free_port()?;
        let inspector_port = free_port()?;
        let log_path = dir.path().join("wrangler.log");
        let log = File::create(&log_path)?;

        let mut cmd = Command::new(root.join("node_modules/.bin/wrangler"));
        cmd.current_dir(&root)
            .arg("dev")
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &inspector_port.to_string()])
            .args(["--inspector-ip", "127.0.0.1"])
            .arg("--persist-to")
            .arg(dir.path().join("state"))
            .arg("--env-file")
            .arg(&env_file)
            .args(["--show-interactive-dev-session=false", "--log-level", "log"])
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_LOG_PATH", dir.path().join("logs"))
            .env("NO_UPDATE_NOTIFIER", "1")
            // The caller built the worker (scripts/test, scripts/demo); many
            // instances must not race to rebuild it.
            .env("MPIC_SKIP_WORKER_BUILD", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Own process group, so that stopping it also stops workerd.
            .process_group(0);
        if let Some(env) = &spec.env {
            cmd.args(["--env", env]);
        }
        let child = cmd.spawn()?;
        let mut perspective = Perspective { child, port, dir };
        perspective.wait_until_serving().await?;
        Ok(perspective)
    }

    async fn wait_until_serving(&mut self) -> Result<(), StartError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StartError::Io(std::io::Error::other(e)))?;
        let url = format!("{}/v1/identity", self.base_url());
        let started = Instant::now();
        while started.elapsed() < START_DEADLINE {
            if let Some(status) = self.child.try_wait()? {
                return Err(StartError::Exited {
                    status: status.to_string(),
                    log: self.log(),
                });
            }
            if let Ok(response) = client.get(&url).send().await
                && answered_by_the_worker(response).await
            {
                return Ok(());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Err(StartError::Timeout(START_DEADLINE, self.log()))
    }

    /// `http://127.0.0.1:<port>`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What wrangler and workerd printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("wrangler.log")).unwrap_or_default()
    }

    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process group of `wrangler dev` and the workerd it started (the
    /// wrangler process's id), for measuring their CPU time.
    pub fn process_group(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Perspective {
    fn drop(&mut self) {
        let Ok(pid) = i32::try_from(self.child.id()) else {
            let _ = self.child.kill();
            return;
        };
        let group = Pid::from_raw(pid);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // workerd may outlive wrangler's exit: always sweep the group.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
