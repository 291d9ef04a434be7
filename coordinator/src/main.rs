//! `mpic`: the coordinator's command line.
//!
//! Exit codes: 0 valid (or success), 1 not corroborated, 2 usage,
//! configuration or internal error.
#![forbid(unsafe_code)]

mod cli;

// 15% less CPU per decision than the system allocator (BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use data_encoding::{BASE64, BASE64URL_NOPAD};
use ed25519_dalek::SigningKey;
use mpic_coordinator::LocalPorts;
use mpic_coordinator::{Config, ConfigError, ServeConfig, Severity};
use mpic_core::keys;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::cli::{EXIT_ERROR, stdout};

#[derive(Parser)]
#[command(
    name = "mpic",
    version,
    about = "Multi-Perspective Issuance Corroboration coordinator (CA/B Forum BR 3.2.2.9)",
    long_about = "Multi-Perspective Issuance Corroboration coordinator (CA/B Forum BR 3.2.2.9).\n\n\
        Sends each check to a cohort of remote perspectives, verifies their signed reports \
        and applies the BR quorum.\n\n\
        Exit codes: 0 valid, 1 not corroborated, 2 usage, configuration or internal error \
        (also when standard output is closed early, as by `| head`).\n\n\
        Logs go to stderr: `info` and above for `serve`, warnings only for the other commands \
        (their result is their output). RUST_LOG overrides, e.g. RUST_LOG=mpic_coordinator=debug.",
    after_help = "Examples:\n  \
        mpic check caa example.com --caa-domain letsencrypt.org   # try it, no configuration needed\n  \
        mpic keygen --out coordinator && mpic config check --config mpic.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new Ed25519 key pair (or a cohort secret, or an API key).
    #[command(after_help = "Examples:\n  \
        mpic keygen                      # print a seed and its public key\n  \
        mpic keygen --out coordinator    # write coordinator.seed (mode 600) and coordinator.pub\n  \
        mpic keygen --secret             # print a cohort secret\n  \
        mpic keygen --api-key            # print an API key and the key_sha256 for [[api.client]]")]
    Keygen(KeygenArgs),
    /// Work with the configuration file.
    #[command(
        subcommand,
        after_help = "Example:\n  mpic config check --config mpic.toml"
    )]
    Config(ConfigCommand),
    /// Corroborate one CAA or DCV check and print the decision.
    Check(Box<cli::check::CheckArgs>),
    /// Serve the Open MPIC HTTP API (POST /mpic, GET /healthz, GET /metrics) until SIGTERM or Ctrl-C.
    #[command(after_help = "Examples:\n  \
        mpic serve --config /etc/mpic/mpic.toml\n  \
        mpic serve --config mpic.toml --listen 127.0.0.1:8080\n\n\
        Then, with a key from `mpic keygen --api-key` whose key_sha256 is in [[api.client]]:\n  \
        curl -sS http://127.0.0.1:8080/mpic \\\n    \
        -H \"Authorization: Bearer $MPIC_API_KEY\" -H 'Content-Type: application/json' \\\n    \
        -d '{\"check_type\":\"caa\",\"domain_or_ip_target\":\"example.com\"}'")]
    Serve(ServeArgs),
    /// Ask each configured perspective who it is and compare with the configuration.
    Perspectives(cli::perspectives::PerspectivesArgs),
    /// Read, re-verify, export and prune the stored decision records.
    #[command(
        subcommand,
        after_help = "Every decision of `mpic serve` and `mpic check --config` is stored, signed by \
            the coordinator and hash-chained, before it is answered. Examples:\n  \
            mpic evidence list --domain example.com\n  \
            mpic evidence show 5f0c…\n  \
            mpic evidence verify --all --chain\n  \
            mpic evidence export 5f0c… > bundle.json\n  \
            mpic evidence verify --bundle bundle.json --trusted-key ed25519:…   # an auditor, offline"
    )]
    Evidence(cli::evidence::EvidenceCommand),
}

#[derive(Args)]
struct KeygenArgs {
    /// Write PREFIX.seed (mode 600) and PREFIX.pub instead of printing.
    #[arg(long, value_name = "PREFIX", conflicts_with_all = ["secret", "api_key"])]
    out: Option<PathBuf>,
    /// Print a random cohort secret (for `cohort_secret`) instead of a key pair.
    #[arg(long, conflicts_with = "api_key")]
    secret: bool,
    /// Print a random API key and its SHA-256 (for `[[api.client]] key_sha256`).
    #[arg(long)]
    api_key: bool,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and print every problem (exit 2 if any error).
    #[command(after_help = "Examples:\n  \
        mpic config check                       # ./mpic.toml, or $MPIC_CONFIG\n  \
        mpic config check --config /etc/mpic/mpic.toml")]
    Check(ConfigArg),
}

#[derive(Args)]
struct ConfigArg {
    /// Configuration file.
    #[arg(long, short, env = "MPIC_CONFIG", default_value = "mpic.toml")]
    config: PathBuf,
}

// The field comments are `--help` text: `[api]` and `[primary]` name TOML
// sections, not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Address and port to listen on (default: [api] listen).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Tests only: the [primary] connects to loopback addresses only, its
    /// DoH resolver may be plain http on loopback, and its connections to
    /// ports 80 and 443 go to --local-http-port and --local-https-port.
    /// Everything else (resolution, the address check, TLS) is as in
    /// production. Never in production.
    #[arg(long, requires = "local_http_port")]
    allow_loopback_for_tests: bool,
    /// Tests only: the loopback port that stands in for port 80.
    #[arg(long, value_name = "PORT", requires = "allow_loopback_for_tests")]
    local_http_port: Option<u16>,
    /// Tests only: the loopback port (a TLS server) that stands in for port
    /// 443; without it, connections to 443 are refused.
    #[arg(long, value_name = "PORT", requires = "allow_loopback_for_tests")]
    local_https_port: Option<u16>,
}

/// Logs to stderr; `RUST_LOG` overrides `default` (`info` for the server,
/// `warn` for commands whose result is their output, so a decision is not
/// printed twice).
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    });
    let result = match cli.command {
        Command::Keygen(args) => keygen(&args).map(|()| ExitCode::SUCCESS),
        Command::Config(ConfigCommand::Check(args)) => config_check(&args.config),
        Command::Check(args) => cli::check::run(*args),
        Command::Serve(args) => serve(&args),
        Command::Perspectives(args) => cli::perspectives::run(&args),
        Command::Evidence(command) => cli::evidence::run(command),
    };
    match result {
        Ok(code) => code,
        // The reader took what it wanted (`| head -1`); nothing to say.
        Err(e) if stdout::is_closed_pipe(&e) => ExitCode::from(EXIT_ERROR),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let config = ServeConfig::load(&args.config.config)?;
    for warning in &config.config.warnings {
        tracing::warn!("{}: {warning}", args.config.config.display());
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let local = args
        .local_http_port
        .filter(|_| args.allow_loopback_for_tests)
        .map(|http| LocalPorts {
            http,
            https: args.local_https_port,
        });
    runtime.block_on(mpic_coordinator::serve(config, args.listen, local))?;
    Ok(ExitCode::SUCCESS)
}

fn random_32() -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut_slice())
        .map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(bytes)
}

fn keygen(args: &KeygenArgs) -> anyhow::Result<()> {
    if args.secret {
        let secret = random_32()?;
        stdout::line(Zeroizing::new(BASE64.encode(secret.as_slice())).as_str())?;
        return Ok(());
    }
    if args.api_key {
        let key = random_32()?;
        let key_text = Zeroizing::new(BASE64URL_NOPAD.encode(key.as_slice()));
        let hash = Sha256::digest(key_text.as_bytes());
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        stdout::line(format_args!("api key:    {}", key_text.as_str()))?;
        stdout::line(format_args!("key_sha256: {hex}"))?;
        return Ok(());
    }
    let seed = random_32()?;
    let key = SigningKey::from_bytes(&seed);
    let seed_text = keys::format_signing_key(&key);
    let public_text = keys::format_verifying_key(&key.verifying_key());
    match &args.out {
        None => {
            stdout::line(seed_text.as_str())?;
            stdout::line(&public_text)?;
        }
        Some(prefix) => {
            let seed_path = with_suffix(prefix, "seed");
            let public_path = with_suffix(prefix, "pub");
            write_secret(&seed_path, seed_text.as_bytes())?;
            std::fs::write(&public_path, format!("{public_text}\n"))
                .with_context(|| format!("writing {}", public_path.display()))?;
            stdout::line(format_args!(
                "wrote {} and {}",
                seed_path.display(),
                public_path.display()
            ))?;
            stdout::line(&public_text)?;
        }
    }
    Ok(())
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates `path` readable by its owner only; refuses to overwrite.
fn write_secret(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.write_all(b"\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn config_check(path: &Path) -> anyhow::Result<ExitCode> {
    Ok(match Config::load(path) {
        Ok(config) => {
            for warning in &config.warnings {
                stdout::line(warning)?;
            }
            stdout::line(format_args!(
                "{}: OK ({} perspectives, {} per attempt, {} warning(s))",
                path.display(),
                config.perspectives.len(),
                config.defaults.perspective_count,
                config.warnings.len()
            ))?;
            ExitCode::SUCCESS
        }
        Err(ConfigError::Invalid { path, problems }) => {
            for problem in &problems.0 {
                stdout::line(problem)?;
            }
            let errors = problems
                .0
                .iter()
                .filter(|p| p.severity == Severity::Error)
                .count();
            eprintln!("{}: {errors} error(s)", path.display());
            ExitCode::from(EXIT_ERROR)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap checks its definition (duplicate flags, positional order,
        // `requires` naming missing arguments) only here or at run time.
        Cli::command().debug_assert();
    }
}
