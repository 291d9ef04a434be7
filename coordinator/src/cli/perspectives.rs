//! `mpic perspectives`: ask every configured perspective who it is and show
//! where it disagrees with the configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use mpic_coordinator::Config;
use mpic_coordinator::{ProbeProblem, ProbeResult, probe_all};

use super::EXIT_ERROR;
use super::stdout;
use super::table::{Table, short};

/// `mpic perspectives`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  mpic perspectives --config /etc/mpic/mpic.toml
  mpic perspectives --json        # ./mpic.toml, or $MPIC_CONFIG

Each perspective also runs its DNSSEC self-test (GET /v1/identity?dnssec_self_test=run):
every resolver must answer SERVFAIL for a known-bogus name and AD=1 for a known-signed one
(DNSSEC_TEST_BOGUS_NAME, DNSSEC_TEST_SIGNED_NAME). A perspective whose resolver fails it
shows NOT VALIDATING: its CAA lookup failures never count as permission (BR 3.2.2.8).

Exit codes: 0 every perspective answered, matches the configuration and validates DNSSEC,
2 one does not (unreachable, another id, key or RIR, a failed DNSSEC self-test), or the
configuration is invalid.")]
pub struct PerspectivesArgs {
    /// Configuration file.
    #[arg(long, short, env = "MPIC_CONFIG", default_value = "mpic.toml")]
    pub config: PathBuf,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &PerspectivesArgs) -> anyhow::Result<ExitCode> {
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_ERROR));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let results = runtime.block_on(probe_all(
        &config.perspectives,
        config.defaults.call_timeout,
    ))?;
    let all_healthy = results.iter().all(ProbeResult::healthy);
    if args.json {
        let output = serde_json::json!({
            "config": args.config.display().to_string(),
            "all_healthy": all_healthy,
            "perspectives": results,
        });
        stdout::line(serde_json::to_string_pretty(&output)?)?;
    } else {
        stdout::line(render(&results))?;
    }
    Ok(if all_healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERROR)
    })
}

fn health(result: &ProbeResult) -> String {
    let problems: Vec<String> = result
        .problems
        .iter()
        // Shown in their own columns.
        .filter(|p| {
            !matches!(
                p,
                ProbeProblem::KeyMismatch { .. }
                    | ProbeProblem::RirMismatch { .. }
                    | ProbeProblem::DnssecSelfTestFailed { .. }
                    | ProbeProblem::DnssecSelfTestNotRun
            )
        })
        .map(ToString::to_string)
        .collect();
    match (problems.is_empty(), result.healthy()) {
        (true, true) => "ok".into(),
        (true, false) => "MISMATCH".into(),
        (false, _) => short(&problems.join("; "), 70),
    }
}

/// The DNSSEC self-test column: `validates`, `NOT VALIDATING` (with the
/// failing resolver in HEALTH's place), `not run`, or `-` without an answer.
fn dnssec(result: &ProbeResult) -> String {
    let Some(claimed) = &result.claimed else {
        return "-".into();
    };
    match &claimed.dnssec_self_test {
        None => "not run".into(),
        Some(test) if test.passed() => "validates".into(),
        Some(_) => "NOT VALIDATING".into(),
    }
}

/// The data center that answered the probe (and runs the checks), with its
/// country: set beside the configured region, a placement hint that was not
/// honoured shows.
fn ran_at(result: &ProbeResult) -> String {
    match result.claimed.as_ref().and_then(|c| c.data_center.as_ref()) {
        None => "-".into(),
        Some(dc) => match &dc.country {
            Some(country) => format!("{} ({country})", dc.code),
            None => dc.code.clone(),
        },
    }
}

fn render(results: &[ProbeResult]) -> String {
    let mut table = Table::new(&[
        "PERSPECTIVE",
        "RIR",
        "REGION",
        "RAN AT",
        "KEY MATCHES",
        "DNSSEC",
        "HEALTH",
        "LATENCY",
    ]);
    for result in results {
        let rir = match &result.claimed {
            Some(claimed) if claimed.rir != result.rir.as_str() => {
                format!("{} (claims {})", result.rir.as_str(), claimed.rir)
            }
            _ => result.rir.as_str().to_owned(),
        };
        let key = match result.key_matches() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        table.row(vec![
            result.perspective_id.clone(),
            rir,
            result.region.clone(),
            ran_at(result),
            key.into(),
            dnssec(result),
            health(result),
            result
                .latency_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let unhealthy = results.iter().filter(|r| !r.healthy()).count();
    let summary = if unhealthy == 0 {
        format!(
            "all {} perspectives answered and match the configuration",
            results.len()
        )
    } else {
        format!(
            "{unhealthy} of {} perspectives have problems",
            results.len()
        )
    };
    format!("{}\n\n{summary}", table.render())
}

#[cfg(test)]
mod tests;
