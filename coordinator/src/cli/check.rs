//! `mpic check`: corroborate one check from the command line, through the
//! configured remote perspectives (`--config`) or, without a configuration,
//! through in-process perspectives (which are not BR-compliant, and every
//! output says so).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use mpic_coordinator::CaIdentities;
use mpic_coordinator::embedded::{self, EmbeddedOptions, NOT_BR_COMPLIANT_NOTICE};
use mpic_coordinator::evidence::{self, RecordContext};
use mpic_coordinator::{Config, PrimaryConfig};
use mpic_coordinator::{
    Coordinator, CoordinatorError, HttpTransport, Outcome, PerspectiveTransport, now_ms,
};
use mpic_coordinator::{DEFAULT_DOH_URL, LocalPorts, NativeNetworkConfig, NativeNetworkError};
use mpic_coordinator::{Decision, PerspectiveResult, ResultStatus};
use mpic_core::check::{CheckParameters, CheckRequest};
use mpic_core::dnssec_self_test::DnssecTestNames;
use mpic_core::name::DomainName;
use serde_json::Value;
use url::Url;

use super::request::{self, CaaArgs, DcvArgs};
use super::table::{Table, short};
use super::{EXIT_ERROR, EXIT_NOT_CORROBORATED, EXIT_VALID_NOT_BR_COMPLIANT, stdout};

const EXAMPLES: &str = "Examples:
  mpic check --config /etc/mpic/mpic.toml caa example.com   # remote perspectives (BR-compliant)
  mpic check --in-process 6 caa example.com --caa-domain letsencrypt.org
  mpic check --in-process 6 dcv acme-http-01 example.com --token TOKEN --key-authorization TOKEN.THUMBPRINT
  mpic check --in-process 6 dcv acme-dns-01 example.com --key-authorization TOKEN.THUMBPRINT --json

Without --config (or MPIC_CONFIG) a check needs --in-process N: it then runs through N
in-process perspectives on this host, which is useful to try a domain but is NOT BR
3.2.2.9-compliant (one network location). A lost MPIC_CONFIG therefore stops with exit 2
rather than quietly checking from one host.

Exit codes:
  0  valid: corroborated by the configured remote perspectives (--config)
  1  not corroborated
  2  usage, configuration or internal error (nothing was decided)
  3  valid, but only in-process (--in-process): NOT BR-compliant, never a basis for issuance";

/// `mpic check`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub kind: CheckKind,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum CheckKind {
    /// May the CA issue for DOMAIN (CAA, RFC 8659 / BR 3.2.2.8)?
    #[command(after_help = "Examples:
  mpic check caa example.com --caa-domain letsencrypt.org
  mpic check caa example.com --caa-domain ca.example --account-uri https://acme.ca.example/acct/1 --validation-method dns-01
  mpic check caa mail.example.com --caa-domain ca.example --s-mime --json")]
    Caa(CaaArgs),
    /// Domain control validation of DOMAIN by METHOD (BR 3.2.2.4).
    #[command(after_help = "Examples:
  mpic check dcv acme-http-01 example.com --token TOKEN --key-authorization TOKEN.THUMBPRINT
  mpic check dcv acme-dns-01 example.com --key-authorization-hash BASE64URL_SHA256
  mpic check dcv dns-change example.com --challenge-value RANDOM --record-type TXT --prefix _pki-validation
  mpic check dcv website-change example.com --http-token-path file.txt --challenge-value RANDOM")]
    Dcv(Box<DcvArgs>),
    /// Any Open MPIC request body, as JSON (or @FILE).
    #[command(after_help = "Example:
  mpic check request '{\"check_type\":\"caa\",\"domain_or_ip_target\":\"example.com\",\"caa_check_parameters\":{\"caa_domains\":[\"ca.example\"]}}'")]
    Request {
        /// The request JSON, or @FILE to read it from a file.
        #[arg(value_name = "JSON")]
        body: String,
    },
}

/// How the check runs and how it is shown.
// The field comments are `--help` text: `[primary]` names a TOML section and
// the URL is shown as written, so neither is a rustdoc link.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Use this configuration's remote perspectives. Without it: in-process
    /// perspectives (not BR-compliant).
    #[arg(long, short, global = true, env = "MPIC_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// DNS-over-HTTPS resolver of the in-process perspectives and the primary
    /// [default: https://cloudflare-dns.com/dns-query, or [primary] doh_url].
    #[arg(long, global = true, value_name = "URL")]
    pub doh_url: Option<String>,
    /// The DNSSEC self-test's known-bogus name for the resolver of the
    /// in-process perspectives and the primary: it must answer SERVFAIL, or
    /// lookup failures never count as permission [default:
    /// dnssec-failed.org, or [primary] dnssec_test_bogus_name].
    #[arg(long, global = true, value_name = "NAME")]
    pub dnssec_bogus_name: Option<String>,
    /// The self-test's known-signed name: the resolver must answer it with
    /// AD=1 [default: isc.org, or [primary] dnssec_test_signed_name].
    #[arg(long, global = true, value_name = "NAME")]
    pub dnssec_signed_name: Option<String>,
    /// Also run the check from this host as the primary perspective (always
    /// on when the configuration has an enabled [primary]); the decision is
    /// valid only if it passes and the perspectives' quorum corroborates it.
    #[arg(long, global = true)]
    pub primary: bool,
    /// Without --config: run through N in-process perspectives on this host
    /// (2 to 8; 6 mirrors a real cohort). Required without --config, so
    /// that a missing MPIC_CONFIG never silently means "check from one
    /// host". A valid in-process decision exits 3, never 0.
    #[arg(long, global = true, value_name = "N")]
    pub in_process: Option<usize>,
    /// Print the decision (with every signed report) as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Test only: connect to loopback only, mapping ports 80/443 to the
    /// ports below, and accept an http:// DoH resolver; resolution, the
    /// address check and TLS are as in production.
    #[arg(long, global = true, hide = true)]
    pub allow_loopback_for_tests: bool,
    /// Test only: the loopback port standing in for port 80.
    #[arg(long, global = true, hide = true, value_name = "PORT")]
    pub local_http_port: Option<u16>,
    /// Test only: the loopback port (a TLS server) standing in for port 443.
    #[arg(long, global = true, hide = true, value_name = "PORT")]
    pub local_https_port: Option<u16>,
}

/// A failure that is the user's to fix: printed as is, exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// How the perspectives were reached, for the output.
enum Mode {
    InProcess {
        count: usize,
    },
    /// `evidence_id`: the stored record (`None` with `[evidence] enabled =
    /// false`).
    Remote {
        config: PathBuf,
        evidence_id: Option<String>,
    },
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (validated, from_flags) = match &args.kind {
        CheckKind::Caa(caa) => (request::validate(&request::caa_request(caa)), true),
        CheckKind::Dcv(dcv) => (request::validate(&request::dcv_request(dcv)), true),
        // Read as the API reads a body: repeated keys refused.
        CheckKind::Request { body } => (
            CheckRequest::from_json(read_request_text(body)?.as_bytes()),
            false,
        ),
    };
    let request = match validated {
        Ok(request) => request,
        Err(e) => {
            eprintln!("error: invalid request:");
            for line in request::describe(&e, from_flags) {
                eprintln!("  {line}");
            }
            return Ok(ExitCode::from(EXIT_ERROR));
        }
    };
    let local = local_ports(&args.run)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(check(&args.run, &request, local));
    let (decision, mode) = match result {
        Ok(done) => done,
        Err(e) => match e.downcast::<UsageError>() {
            Ok(usage) => {
                eprintln!("error: {usage}");
                return Ok(ExitCode::from(EXIT_ERROR));
            }
            Err(other) => return Err(other),
        },
    };
    if args.run.json {
        stdout::line(serde_json::to_string_pretty(&json_output(
            &decision, &mode,
        ))?)?;
    } else {
        stdout::line(render(&decision, &mode, &request))?;
    }
    Ok(ExitCode::from(exit_code(&decision, &mode)))
}

/// 0 only for a valid decision of remote perspectives (see EXAMPLES).
fn exit_code(decision: &Decision, mode: &Mode) -> u8 {
    match (
        decision.outcome() != Outcome::Incomplete,
        decision.is_valid(),
        mode,
    ) {
        (false, _, _) => EXIT_ERROR,
        (true, false, _) => EXIT_NOT_CORROBORATED,
        (true, true, Mode::InProcess { .. }) => EXIT_VALID_NOT_BR_COMPLIANT,
        (true, true, Mode::Remote { .. }) => 0,
    }
}

fn read_request_text(text: &str) -> anyhow::Result<String> {
    Ok(match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => text.to_owned(),
    })
}

fn local_ports(run: &RunArgs) -> anyhow::Result<Option<LocalPorts>> {
    match (run.allow_loopback_for_tests, run.local_http_port) {
        (false, None) if run.local_https_port.is_none() => Ok(None),
        (true, Some(http)) => Ok(Some(LocalPorts {
            http,
            https: run.local_https_port,
        })),
        (true, None) => {
            Err(UsageError("--allow-loopback-for-tests needs --local-http-port".into()).into())
        }
        (false, _) => Err(UsageError(
            "--local-http-port and --local-https-port need --allow-loopback-for-tests".into(),
        )
        .into()),
    }
}

fn parse_doh_url(text: &str) -> anyhow::Result<Url> {
    Url::parse(text).map_err(|e| UsageError(format!("--doh-url {text:?} is not a URL: {e}")).into())
}

fn network_config(
    doh_url: Url,
    local: Option<LocalPorts>,
    dnssec_test_names: DnssecTestNames,
) -> NativeNetworkConfig {
    let mut config = NativeNetworkConfig::new(doh_url);
    config.local = local;
    config.dnssec_test_names = dnssec_test_names;
    config
}

/// The self-test names: the flags, else `configured`, else the defaults.
fn dnssec_test_names(
    run: &RunArgs,
    configured: Option<&DnssecTestNames>,
) -> anyhow::Result<DnssecTestNames> {
    let base = configured.cloned().unwrap_or_default();
    let name = |flag: &str, given: &Option<String>, fallback: String| match given {
        None => Ok(fallback),
        Some(text) => DomainName::parse(text)
            .map(|name| name.as_str().to_owned())
            .map_err(|e| anyhow::Error::from(UsageError(format!("{flag} {text:?}: {e}")))),
    };
    Ok(DnssecTestNames {
        bogus: name("--dnssec-bogus-name", &run.dnssec_bogus_name, base.bogus)?,
        signed: name("--dnssec-signed-name", &run.dnssec_signed_name, base.signed)?,
    })
}

async fn check(
    run: &RunArgs,
    request: &CheckRequest,
    local: Option<LocalPorts>,
) -> anyhow::Result<(Decision, Mode)> {
    match &run.config {
        Some(path) => {
            if run.in_process.is_some() {
                return Err(UsageError(
                    "--in-process applies only without --config (or MPIC_CONFIG)".into(),
                )
                .into());
            }
            let config = Config::load(path).map_err(|e| UsageError(e.to_string()))?;
            for warning in &config.warnings {
                eprintln!("{warning}");
            }
            // The API's rule for its clients, with the CA's own identities.
            CaIdentities::of_the_ca(&config.defaults.caa_issuer_domains)
                .admit(request)
                .map_err(|e| UsageError(format!("invalid request: {e}")))?;
            if run.doh_url.is_some() && !run.primary && config.primary.is_none() {
                return Err(UsageError(
                    "with --config, --doh-url sets the primary perspective's resolver: \
                     add --primary (or enable [primary] in the configuration)"
                        .into(),
                )
                .into());
            }
            let doh_url = match (&run.doh_url, &config.primary) {
                (Some(text), _) => Some(parse_doh_url(text)?),
                (None, Some(primary)) => Some(primary.doh_url.clone()),
                (None, None) if run.primary => Some(parse_doh_url(DEFAULT_DOH_URL)?),
                (None, None) => None,
            };
            let names =
                dnssec_test_names(run, config.primary.as_ref().map(|p| &p.dnssec_test_names))?;
            let mut config = config;
            config.primary = match doh_url {
                Some(doh_url) if run.primary || config.primary.is_some() => Some(PrimaryConfig {
                    doh_url,
                    dnssec_test_names: names,
                    local,
                }),
                _ => None,
            };
            // Opened before the check: a store that is down stops it here.
            let recorder = evidence::start_recorder(&config).await?;
            let transport = HttpTransport::new()?;
            let decision = corroborate(config, transport, request).await?;
            let evidence_id = match recorder {
                Some(recorder) => {
                    let context = RecordContext {
                        decided_at_ms: now_ms(),
                        client: None,
                        request: serde_json::to_string(request)?,
                    };
                    // Fail closed: an unstored decision is not shown (exit 2).
                    let id = recorder.record(&decision, context).await.map_err(|e| {
                        anyhow::anyhow!("{e}; the decision was not stored, so it is not shown")
                    })?;
                    Some(id)
                }
                None => None,
            };
            Ok((
                decision,
                Mode::Remote {
                    config: path.clone(),
                    evidence_id,
                },
            ))
        }
        None => {
            let Some(count) = run.in_process else {
                return Err(UsageError(
                    "no configuration: pass --config PATH (or set MPIC_CONFIG) to check \
                     through the remote perspectives, or --in-process N to try the check \
                     from this host only (NOT BR 3.2.2.9-compliant; a valid result exits 3)"
                        .into(),
                )
                .into());
            };
            let doh_url = parse_doh_url(run.doh_url.as_deref().unwrap_or(DEFAULT_DOH_URL))?;
            let network = network_config(doh_url, local, dnssec_test_names(run, None)?);
            if let CheckParameters::Caa(params) = &request.parameters
                && params.caa_domains.as_ref().is_none_or(Vec::is_empty)
            {
                return Err(UsageError(
                    "a CAA check needs the CA's issuer domain names: pass --caa-domain \
                     (e.g. --caa-domain letsencrypt.org), or --config with \
                     defaults.caa_issuer_domains"
                        .into(),
                )
                .into());
            }
            let options = EmbeddedOptions {
                count,
                ..EmbeddedOptions::default()
            };
            let setup = embedded::native(&options, &network).map_err(|e| match e {
                embedded::EmbeddedError::Count { .. } | embedded::EmbeddedError::Network(_) => {
                    anyhow::Error::from(UsageError(e.to_string()))
                }
                other => anyhow::Error::from(other),
            })?;
            let mut config = setup.config;
            if run.primary {
                config.primary = Some(PrimaryConfig {
                    doh_url: network.doh_url.clone(),
                    dnssec_test_names: network.dnssec_test_names.clone(),
                    local: network.local,
                });
            }
            let count = config.perspectives.len();
            let decision = corroborate(config, setup.transport, request).await?;
            Ok((decision, Mode::InProcess { count }))
        }
    }
}

/// Runs `request` through a coordinator for `config`, with the primary
/// perspective when `config` has one: its start-up DNSSEC self-test is a
/// warning on stderr when it fails; the check still runs.
async fn corroborate<T: PerspectiveTransport + 'static>(
    config: Config,
    transport: T,
    request: &CheckRequest,
) -> anyhow::Result<Decision> {
    // The command exits once its decision is stored: calls still running
    // then are dropped, not run on.
    let coordinator = Coordinator::new(config, transport)
        .map_err(|e| match e {
            CoordinatorError::Primary(NativeNetworkError::Http(_)) => anyhow::Error::from(e),
            CoordinatorError::Primary(other) => UsageError(format!("--primary: {other}")).into(),
            other => UsageError(format!("no cohort of perspectives can be formed: {other}")).into(),
        })?
        .with_late_results(false);
    coordinator.primary_self_test().await;
    coordinator
        .check(request)
        .await
        .map_err(|e| UsageError(format!("invalid request: {e}")).into())
}

/// The decision as JSON, with how it was reached: `mode`, and for
/// in-process perspectives `br_compliant: false` and the notice.
fn json_output(decision: &Decision, mode: &Mode) -> Value {
    let mut value = serde_json::to_value(decision).unwrap_or_else(
        |e| serde_json::json!({"error": format!("the decision could not be serialised: {e}")}),
    );
    if let Value::Object(map) = &mut value {
        match mode {
            Mode::InProcess { count } => {
                map.insert("mode".into(), "in_process".into());
                map.insert("in_process_perspectives".into(), (*count).into());
                map.insert("br_compliant".into(), false.into());
                map.insert("notice".into(), NOT_BR_COMPLIANT_NOTICE.into());
            }
            Mode::Remote {
                config,
                evidence_id,
            } => {
                map.insert("mode".into(), "remote".into());
                map.insert("config".into(), config.display().to_string().into());
                map.insert("evidence_id".into(), evidence_id.clone().into());
            }
        }
    }
    value
}

/// One table row: perspective, RIR, what it saw, verdict, signature, latency.
fn row(result: &PerspectiveResult) -> Vec<String> {
    let verdict = match (&result.verified, &result.report, &result.status) {
        (Some(body), _, _) => body.verdict.as_str().to_owned(),
        (None, _, ResultStatus::Cancelled) => "cancelled".to_owned(),
        (None, Some(_), _) => "unverified".to_owned(),
        (None, None, _) => "-".to_owned(),
    };
    let signature = match (&result.verified, &result.report) {
        (Some(_), _) => "yes",
        (None, Some(_)) => "NO",
        (None, None) => "-",
    };
    let saw = match &result.verified {
        Some(body) => body.reason.as_str(),
        None => result.detail.as_deref().unwrap_or(""),
    };
    vec![
        result.perspective_id.clone(),
        result.rir.as_str().to_owned(),
        short(&readable(saw), 72),
        verdict,
        signature.to_owned(),
        result
            .elapsed_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "-".into()),
    ]
}

/// A report reason for people: `CAA forbids issuance: {"kind":...}` becomes
/// `CAA forbids issuance (kind, ...): first detail`. The JSON itself is in
/// `--json`.
fn readable(reason: &str) -> String {
    let Some(start) = reason.find(": {").or_else(|| reason.find(": [")) else {
        return reason.to_owned();
    };
    let Ok(value) = serde_json::from_str::<Value>(&reason[start + 2..]) else {
        return reason.to_owned();
    };
    let mut kinds: Vec<String> = Vec::new();
    let mut detail: Option<String> = None;
    let mut stack = vec![&value];
    // Bounded by the size of the (already bounded) reason text.
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("kind" | "result", Value::String(kind)) if !kinds.contains(kind) => {
                            kinds.push(kind.clone());
                        }
                        ("detail", Value::String(text)) if detail.is_none() => {
                            detail = Some(text.clone());
                        }
                        _ => {}
                    }
                }
                stack.extend(map.values().rev());
            }
            Value::Array(items) => stack.extend(items.iter().rev()),
            _ => {}
        }
    }
    let mut text = reason[..start].to_owned();
    if !kinds.is_empty() {
        text.push_str(&format!(" ({})", kinds.join(", ")));
    }
    if let Some(detail) = detail {
        text.push_str(": ");
        text.push_str(&detail);
    }
    text
}

/// The readable report: a table per attempt, the primary, the decision.
fn render(decision: &Decision, mode: &Mode, request: &CheckRequest) -> String {
    let what = match &request.parameters {
        CheckParameters::Caa(_) => "CAA".to_owned(),
        CheckParameters::Dcv(p) => format!("DCV {}", p.method()),
    };
    let mut out = match mode {
        Mode::InProcess { count } => format!(
            "{what} check of {} through {count} in-process perspectives\n",
            decision.target()
        ),
        Mode::Remote {
            config,
            evidence_id,
        } => format!(
            "{what} check of {} through remote perspectives ({}); evidence record {}\n",
            decision.target(),
            config.display(),
            evidence_id
                .as_deref()
                .unwrap_or("not kept ([evidence] enabled = false)")
        ),
    };
    let several = decision.attempts().len() > 1;
    for attempt in decision.attempts() {
        out.push('\n');
        if several {
            out.push_str(&format!(
                "attempt {} ({}):\n",
                attempt.attempt,
                attempt.quorum_result()
            ));
        }
        let mut table = Table::new(&[
            "PERSPECTIVE",
            "RIR",
            "SAW",
            "VERDICT",
            "SIGNATURE OK",
            "LATENCY",
        ]);
        for result in &attempt.results {
            table.row(row(result));
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    out.push('\n');
    if let Some(primary) = &decision.primary() {
        out.push_str(&format!(
            "primary (this host, via {}): {}: {}\n  corroborated by the remote perspectives: {}\n",
            primary.resolvers.join(", "),
            primary.verdict.as_str(),
            short(&primary.reason, 100),
            if primary.corroborated_by_remote {
                "yes"
            } else {
                "no"
            }
        ));
    }
    if let Mode::InProcess { .. } = mode {
        out.push_str(&format!("NOT BR-COMPLIANT: {NOT_BR_COMPLIANT_NOTICE}\n"));
    }
    let required = decision
        .quorum_count()
        .map(|n| format!(", {n} required"))
        .unwrap_or_default();
    let verdict = if decision.is_valid() {
        "VALID"
    } else if decision.outcome() != Outcome::Incomplete {
        "NOT CORROBORATED"
    } else {
        "NOT COMPLETED"
    };
    let quorum = decision.tally().map(|t| t.to_string()).unwrap_or_default();
    out.push_str(&format!(
        "decision: {verdict} (quorum {quorum}{required})\n"
    ));
    if decision.is_valid() {
        out.push_str(&format!(
            "reason: quorum met: {quorum} perspectives corroborated\n"
        ));
    } else {
        for reason in decision.reasons() {
            out.push_str(&format!("reason: {reason}\n"));
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests;
