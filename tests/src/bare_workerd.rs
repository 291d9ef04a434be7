//! The built worker under `workerd serve` directly, with a configuration
//! generated for it: no wrangler and no node proxy in front, so that the
//! CPU a request costs is the runtime's and ours only (the benchmark's use).
//!
//! [`Script::Mpic`] is the worker `scripts/build-worker` built, with the
//! bindings a `wrangler dev` perspective gets from its vars;
//! [`Script::Floor`] is a worker that answers every request `ok` at once,
//! whose CPU per request is the runtime's own floor.
//!
//! The process runs in its own process group, on a 127.0.0.1 port, and is
//! killed when the [`BareWorkerd`] is dropped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, repo_root};

/// How long workerd may take to answer its first request.
const START_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// wrangler.toml's `compatibility_date`.
const COMPATIBILITY_DATE: &str = "2026-04-20";

/// Which worker to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// The built mpic-worker (`worker/build/`).
    Mpic,
    /// `ok` for every request: the runtime's own cost.
    Floor,
}

const FLOOR_SCRIPT: &str = "export default { async fetch() { return new Response(\"ok\"); } };\n";

#[derive(Debug, thiserror::Error)]
pub enum BareWorkerdError {
    #[error("the worker is not built ({0} is missing): run scripts/build-worker")]
    NotBuilt(PathBuf),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("workerd exited before serving ({status}); its log:\n{log}")]
    Exited { status: String, log: String },
    #[error("workerd did not serve within {0:?}; its log:\n{1}")]
    Timeout(Duration, String),
}

/// A running `workerd serve`.
pub struct BareWorkerd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// From spawning the process to its first answer.
    pub first_answer: Duration,
}

impl BareWorkerd {
    /// Starts `script` with `vars` as text bindings, and waits until it
    /// answers `GET /` (any status).
    pub async fn start(
        script: Script,
        vars: &BTreeMap<String, String>,
    ) -> Result<Self, BareWorkerdError> {
        let root = repo_root();
        let binary = root.join("node_modules/workerd/bin/workerd");
        let dir = tempfile::Builder::new()
            .prefix("mpic-bare-workerd-")
            .tempdir()?;
        let modules = match script {
            Script::Mpic => {
                let build = root.join("worker/build");
                for file in ["index.js", "index_bg.wasm"] {
                    let from = build.join(file);
                    if !from.exists() {
                        return Err(BareWorkerdError::NotBuilt(from));
                    }
                    std::fs::copy(&from, dir.path().join(file))?;
                }
                r#"(name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm")"#
            }
            Script::Floor => {
                std::fs::write(dir.path().join("floor.js"), FLOOR_SCRIPT)?;
                r#"(name = "floor.js", esModule = embed "floor.js")"#
            }
        };
        let port = free_port()?;
        std::fs::write(dir.path().join("config.capnp"), config(modules, port, vars))?;
        let log = File::create(dir.path().join("workerd.log"))?;
        let started = Instant::now();
        let child = Command::new(&binary)
            .current_dir(dir.path())
            .args(["serve", "config.capnp"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()?;
        let mut workerd = Self {
            child,
            port,
            dir,
            first_answer: Duration::ZERO,
        };
        workerd.wait_until_serving(started).await?;
        Ok(workerd)
    }

    async fn wait_until_serving(&mut self, started: Instant) -> Result<(), BareWorkerdError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| BareWorkerdError::Io(std::io::Error::other(e)))?;
        while started.elapsed() < START_DEADLINE {
            if let Some(status) = self.child.try_wait()? {
                return Err(BareWorkerdError::Exited {
                    status: status.to_string(),
                    log: self.log(),
                });
            }
            if client.get(self.base_url()).send().await.is_ok() {
                self.first_answer = started.elapsed();
                return Ok(());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Err(BareWorkerdError::Timeout(START_DEADLINE, self.log()))
    }

    /// `http://127.0.0.1:<port>`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process group (workerd's pid), for measuring its CPU time.
    pub fn process_group(&self) -> u32 {
        self.child.id()
    }

    /// What workerd printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("workerd.log")).unwrap_or_default()
    }
}

impl Drop for BareWorkerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workerd configuration: one worker with `modules` and `vars` as text
/// bindings, served on 127.0.0.1:`port`, whose `fetch()` may reach loopback
/// (the DoH fixture).
fn config(modules: &str, port: u16, vars: &BTreeMap<String, String>) -> String {
    let mut bindings = String::new();
    for (name, value) in vars {
        let _ = write!(
            bindings,
            "\n    (name = {}, text = {}),",
            capnp_text(name),
            capnp_text(value)
        );
    }
    format!(
        r#"using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    {modules}
  ],
  compatibilityDate = "{COMPATIBILITY_DATE}",
  bindings = [{bindings}
  ],
  globalOutbound = "internet",
);
"#
    )
}

/// A Cap'n Proto text literal.
fn capnp_text(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
