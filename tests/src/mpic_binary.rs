//! The coordinator's `mpic` binary for end-to-end tests that run it as a
//! process: `target/<profile>/mpic`, built (or found up to date) by `cargo
//! build -p mpic-coordinator --bin mpic` in the target directory and profile
//! the running test was built with, so it is never stale.
//!
//! mpic-tests cannot depend on the coordinator's binary target directly
//! (cargo only builds a package's own binaries for its integration tests).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Variables cargo gives a test about its own package. Build scripts
/// (ring's) rerun when they change, which would rebuild half the tree on
/// every alternation between the outer build and this one.
const PER_PACKAGE_PREFIXES: [&str; 3] = ["CARGO_PKG_", "CARGO_BIN_", "CARGO_CFG_"];
const PER_PACKAGE_VARS: [&str; 8] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// Why the binary is not available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MpicBinaryError {
    #[error("cannot tell where this test runs from: {0}")]
    CurrentExe(String),
    #[error("{0} is not in target/<profile>/deps: cannot tell the profile")]
    NotInTargetDir(PathBuf),
    #[error("cannot run cargo to build the mpic binary: {0}")]
    Cargo(String),
    #[error("`cargo build -p mpic-coordinator --bin mpic` failed ({0})")]
    BuildFailed(String),
    #[error("{0} is missing: run `cargo build -p mpic-coordinator --bin mpic` first")]
    Missing(PathBuf),
    #[error("cannot run mpic: {0}")]
    Run(String),
}

/// Runs `mpic ARGS` to completion as an operator's script would, without
/// the test's `MPIC_CONFIG` and logging warnings only; on a blocking thread,
/// so the fixtures on the async runtime keep answering.
pub async fn run(args: Vec<String>) -> Result<Output, MpicBinaryError> {
    let binary = mpic_binary()?.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(binary)
            .args(&args)
            .env_remove("MPIC_CONFIG")
            .env("RUST_LOG", "warn")
            .output()
    })
    .await
    .map_err(|e| MpicBinaryError::Run(e.to_string()))?
    .map_err(|e| MpicBinaryError::Run(e.to_string()))
}

/// The path of the `mpic` binary, built on first use (once per test
/// process). When cargo did not start this test (no `CARGO` variable), the
/// binary must already be there.
pub fn mpic_binary() -> Result<&'static Path, MpicBinaryError> {
    static BINARY: OnceLock<Result<PathBuf, MpicBinaryError>> = OnceLock::new();
    BINARY
        .get_or_init(find_or_build)
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(Clone::clone)
}

fn find_or_build() -> Result<PathBuf, MpicBinaryError> {
    let exe = std::env::current_exe().map_err(|e| MpicBinaryError::CurrentExe(e.to_string()))?;
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| MpicBinaryError::NotInTargetDir(exe.clone()))?;
    let binary = profile_dir.join(format!("mpic{}", std::env::consts::EXE_SUFFIX));
    if let (Ok(cargo), Some(target_dir), Some(profile)) = (
        std::env::var("CARGO"),
        profile_dir.parent(),
        profile_dir.file_name().and_then(|n| n.to_str()),
    ) {
        let profile = match profile {
            "debug" => "dev",
            other => other,
        };
        let mut build = Command::new(cargo);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let per_package = PER_PACKAGE_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
                || PER_PACKAGE_VARS.contains(&name.as_ref());
            if per_package {
                build.env_remove(name.as_ref());
            }
        }
        let status = build
            .args([
                "build",
                "--quiet",
                "-p",
                "mpic-coordinator",
                "--bin",
                "mpic",
            ])
            .arg("--profile")
            .arg(profile)
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(crate::repo_root())
            .status()
            .map_err(|e| MpicBinaryError::Cargo(e.to_string()))?;
        if !status.success() {
            return Err(MpicBinaryError::BuildFailed(status.to_string()));
        }
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(MpicBinaryError::Missing(binary))
    }
}
