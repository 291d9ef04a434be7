//! A throwaway PostgreSQL server on 127.0.0.1 for the evidence store's
//! tests: `initdb` into a temporary directory, `postgres` on a free loopback
//! port (TCP on 127.0.0.1 only, its socket in that directory), stopped by
//! its process id when the handle is stopped or dropped.
//!
//! The binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, which
//! `scripts/setup` installs), or those in `MPIC_PG_BIN`. `initdb` and
//! `postgres` refuse to run as root, so as root they run as the `postgres`
//! user through `runuser`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid};

use crate::free_port;

/// How long the server may take to accept connections.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long a fast shutdown may take before the server is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(100);
/// The superuser `initdb` creates (trust authentication, loopback only).
pub const USER: &str = "mpic";

#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("no PostgreSQL server binaries: run scripts/setup (or set MPIC_PG_BIN)")]
    NoBinaries,
    #[error("cannot run PostgreSQL: {0}")]
    Io(#[from] std::io::Error),
    #[error("{command} failed ({status}): {output}")]
    Failed {
        command: &'static str,
        status: String,
        output: String,
    },
    #[error("postgres exited before accepting connections ({status}); its log:\n{log}")]
    Exited { status: String, log: String },
    #[error("postgres accepted no connection within {0:?}; its log:\n{1}")]
    Timeout(Duration, String),
    #[error("cannot signal postgres: {0}")]
    Signal(#[from] nix::Error),
}

/// A running (or stopped, restartable) throwaway server.
pub struct PostgresServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

fn bin_dir() -> Result<PathBuf, PostgresError> {
    if let Some(dir) = std::env::var_os("MPIC_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| PostgresError::NoBinaries)?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .collect();
    found.sort();
    found.pop().ok_or(PostgresError::NoBinaries)
}

/// `program args` as the user that may run PostgreSQL.
fn as_postgres_user(program: &Path) -> Command {
    if Uid::effective().is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PostgresServer {
    /// Initialises a cluster and starts it; returns once it accepts
    /// connections.
    pub async fn start() -> Result<Self, PostgresError> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new().prefix("mpic-pg-").tempdir()?;
        if Uid::effective().is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()?;
            if !status.success() {
                return Err(PostgresError::Failed {
                    command: "chown",
                    status: status.to_string(),
                    output: String::new(),
                });
            }
        }
        let output = as_postgres_user(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8"])
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(PostgresError::Failed {
                command: "initdb",
                status: output.status.to_string(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }
        let mut server = Self {
            bin,
            dir,
            port: free_port()?,
            child: None,
        };
        server.start_again().await?;
        Ok(server)
    }

    /// Starts the stopped server on the same data and port.
    pub async fn start_again(&mut self) -> Result<(), PostgresError> {
        let log = File::create(self.log_path())?;
        if Uid::effective().is_root() {
            let _ = Command::new("chown")
                .arg("postgres:postgres")
                .arg(self.log_path())
                .status();
        }
        let child = as_postgres_user(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args(["-c", "max_connections=50", "-c", "fsync=on"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < START_DEADLINE {
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                return Err(PostgresError::Exited {
                    status: status.to_string(),
                    log: self.log(),
                });
            }
            if tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        Err(PostgresError::Timeout(START_DEADLINE, self.log()))
    }

    /// `postgres://mpic@127.0.0.1:<port>/<database>`
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates `database` and returns its URL.
    pub async fn create_database(&self, database: &str) -> Result<String, PostgresError> {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .map_err(|e| PostgresError::Io(std::io::Error::other(e.to_string())))?;
        let task = tokio::spawn(connection);
        let created = client
            .batch_execute(&format!("CREATE DATABASE \"{database}\""))
            .await;
        drop(client);
        let _ = task.await;
        created.map_err(|e| PostgresError::Io(std::io::Error::other(e.to_string())))?;
        Ok(self.url(database))
    }

    /// The postmaster's process id, from its `postmaster.pid` (the child is
    /// `runuser` when the tests run as root).
    fn postmaster(&self, child: &Child) -> Result<Pid, PostgresError> {
        let text = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .unwrap_or_default();
        let pid = text
            .lines()
            .next()
            .and_then(|line| line.trim().parse::<i32>().ok())
            .or_else(|| i32::try_from(child.id()).ok())
            .ok_or_else(|| std::io::Error::other("no postmaster process id"))?;
        Ok(Pid::from_raw(pid))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Fast shutdown (SIGINT: running transactions roll back), waiting for
    /// the process; killed if it does not end in time.
    pub async fn stop(&mut self) -> Result<(), PostgresError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // The postmaster itself (runuser does not pass signals on).
        let postmaster = self.postmaster(&child)?;
        kill(postmaster, Signal::SIGINT)?;
        let deadline = Instant::now() + STOP_DEADLINE;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        let _ = kill(postmaster, Signal::SIGKILL);
        child.kill()?;
        child.wait()?;
        Ok(())
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let postmaster = self.postmaster(&child).ok();
            if let Some(pid) = postmaster {
                let _ = kill(pid, Signal::SIGINT);
            }
            let deadline = Instant::now() + STOP_DEADLINE;
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(POLL);
            }
            if let Some(pid) = postmaster {
                let _ = kill(pid, Signal::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
