//! `mpic evidence`: list, show, verify, export and prune the stored
//! decision records ([`mpic_coordinator::evidence`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use clap::{Args, Subcommand};
use ed25519_dalek::VerifyingKey;
use mpic_coordinator::Config;
use mpic_coordinator::evidence::audit::{self, RecordAudit};
use mpic_coordinator::evidence::{
    self, Bundle, EvidenceStore, ListFilter, RecordBody, StoredRecord, receipt, record,
};
use mpic_core::keys;

use super::table::{Table, short};
use super::{EXIT_NOT_CORROBORATED, stdout};

const DAY_MS: u64 = 86_400_000;

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// List stored decisions, newest first.
    #[command(after_help = "Examples:\n  \
        mpic evidence list --config mpic.toml --domain example.com\n  \
        mpic evidence list --since 2026-12-01 --until 2026-12-06T12:00:00Z --invalid")]
    List(ListArgs),
    /// Show one decision: the BR 5.4.1 items (each perspective's id, the
    /// target, each result, the quorum result) and its receipt.
    Show(ShowArgs),
    /// Re-verify records offline, trusting only the given coordinator keys
    /// (the configured key, [evidence] trusted_keys, --trusted-key): each
    /// record's signature, each attempt's signed request, every counted
    /// report against the recorded perspective key and that request, the BR
    /// quorum in force when the check began, and (with --chain) each
    /// writer's hash chain up to its head. Reads the store read-only. Exit 0
    /// when everything holds, 1 when anything fails (each failure is named)
    /// or there is nothing to verify, 2 on errors.
    #[command(after_help = "Examples:\n  \
        mpic evidence verify --all --chain --config mpic.toml\n  \
        mpic evidence verify 5f0c… --config mpic.toml\n  \
        mpic evidence verify --bundle bundle.json --trusted-key ed25519:…   # no store needed")]
    Verify(VerifyArgs),
    /// Write one record as a self-contained JSON bundle for an auditor
    /// (check it with `mpic evidence verify --bundle FILE`).
    #[command(
        after_help = "Example:\n  mpic evidence export 5f0c… --config mpic.toml > bundle.json"
    )]
    Export(ShowArgs),
    /// Delete records older than [evidence] keep_days (BR 5.4.3: at least two
    /// years) and note, per writer, where the chain was cut.
    Prune(PruneArgs),
}

#[derive(Args)]
pub struct StoreArgs {
    /// Configuration file; its [evidence] section names the store.
    #[arg(long, short, env = "MPIC_CONFIG", default_value = "mpic.toml")]
    config: PathBuf,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only this domain or IP address.
    #[arg(long)]
    domain: Option<String>,
    /// Decided at or after this time (RFC 3339, YYYY-MM-DD, or unix ms).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Decided before this time.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only valid decisions.
    #[arg(long, conflicts_with = "invalid")]
    valid: bool,
    /// Only decisions that were not valid.
    #[arg(long)]
    invalid: bool,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The record id (`x_mpic.evidence_id`, or from `list`).
    id: String,
    /// The whole record as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// One record.
    #[arg(conflicts_with_all = ["all", "bundle"], required_unless_present_any = ["all", "bundle"])]
    id: Option<String>,
    /// Every record in the store.
    #[arg(long)]
    all: bool,
    /// Also check each writer's hash chain (with --all).
    #[arg(long, requires = "all")]
    chain: bool,
    /// A bundle from `mpic evidence export`, checked without the store
    /// (needs --trusted-key, or a --config whose keys to trust).
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    bundle: Option<PathBuf>,
    /// A coordinator key (`ed25519:…`) whose records to accept, besides
    /// the configured key and [evidence] trusted_keys. Repeatable.
    #[arg(long = "trusted-key", value_name = "KEY")]
    trusted_keys: Vec<String>,
}

#[derive(Args)]
pub struct PruneArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Say what would be deleted; delete nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(command: EvidenceCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match command {
            EvidenceCommand::List(args) => list(args).await,
            EvidenceCommand::Show(args) => show(args, false).await,
            EvidenceCommand::Export(args) => show(args, true).await,
            EvidenceCommand::Verify(args) => verify(args).await,
            EvidenceCommand::Prune(args) => prune(args).await,
        }
    })
}

/// The configured store, opened to read (SQLite read-only: an audit
/// changes nothing and may run on a copy), or, with `write`, as the
/// coordinator opens it.
async fn open(args: &StoreArgs, write: bool) -> anyhow::Result<(Config, EvidenceStore)> {
    let config = Config::load(&args.config)?;
    let Some(location) = &config.evidence.store else {
        anyhow::bail!(
            "{}: [evidence] enabled = false: there is no store",
            args.config.display()
        );
    };
    let store = if write {
        EvidenceStore::open(location).await?
    } else {
        EvidenceStore::open_existing(location).await?
    };
    Ok((config, store))
}

/// RFC 3339, `YYYY-MM-DD` (midnight UTC), `YYYY-MM-DDTHH:MM:SS` (UTC) or
/// unix milliseconds.
fn parse_time(flag: &str, text: &str) -> anyhow::Result<u64> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    let at = DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map(|t| t.and_utc()))
        .or_else(|_| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| {
            anyhow::anyhow!(
                "{flag} {text:?}: expected RFC 3339 (2026-12-06T12:00:00Z), a date \
                 (2026-12-06), or unix milliseconds"
            )
        })?;
    u64::try_from(at.timestamp_millis())
        .map_err(|_| anyhow::anyhow!("{flag} {text:?} is before 1970"))
}

fn time_text(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map_or_else(
            || format!("{ms} ms"),
            |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        )
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let (_, store) = open(&args.store, false).await?;
    let filter = ListFilter {
        target: args
            .domain
            .map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
        since_ms: args.since.map(|t| parse_time("--since", &t)).transpose()?,
        until_ms: args.until.map(|t| parse_time("--until", &t)).transpose()?,
        is_valid: match (args.valid, args.invalid) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        client: None,
        limit: args.limit,
    };
    let rows = store.list(&filter).await?;
    let mut table = Table::new(&[
        "id",
        "decided at (UTC)",
        "target",
        "type",
        "valid",
        "client",
        "writer/seq",
    ]);
    for c in &rows {
        table.row(vec![
            c.id.clone(),
            time_text(c.decided_at_ms),
            c.target.clone(),
            c.check_type.clone(),
            if c.is_valid { "yes" } else { "no" }.into(),
            c.client.clone().unwrap_or_else(|| "-".into()),
            format!("{}/{}", c.writer, c.sequence),
        ]);
    }
    stdout::line(table.render())?;
    stdout::line(format!("{} record(s)", rows.len()))?;
    Ok(ExitCode::SUCCESS)
}

async fn get(store: &EvidenceStore, id: &str) -> anyhow::Result<StoredRecord> {
    store
        .get(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no record {id:?} in {}", store.describe()))
}

fn body_of(stored: &StoredRecord) -> anyhow::Result<RecordBody> {
    let json = receipt::record_json(&stored.sealed.record)?;
    Ok(serde_json::from_slice(json)?)
}

async fn show(args: ShowArgs, export: bool) -> anyhow::Result<ExitCode> {
    let (_, store) = open(&args.store, false).await?;
    let stored = get(&store, &args.id).await?;
    if export {
        stdout::line(serde_json::to_string_pretty(&Bundle::of(&stored))?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let body = body_of(&stored)?;
    if args.json {
        stdout::line(serde_json::to_string_pretty(&body)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    stdout::line(render(&stored, &body))?;
    Ok(ExitCode::SUCCESS)
}

/// The record for people: the BR 5.4.1 items first.
fn render(stored: &StoredRecord, body: &RecordBody) -> String {
    let d = body.decision.as_recorded();
    let quorum = d.tally().map_or_else(|| "-".to_owned(), |t| t.to_string());
    let mut out = format!(
        "record      {}\n\
         decided at  {} UTC\n\
         target      {} ({})\n\
         decision    {} (quorum result {})\n",
        body.id,
        time_text(body.decided_at_ms),
        d.target(),
        d.check_type().as_str(),
        if d.is_valid() { "VALID" } else { "NOT VALID" },
        quorum,
    );
    for reason in d.reasons() {
        out.push_str(&format!(
            "  reason    {}\n",
            short(&reason.to_string(), 110)
        ));
    }
    for attempt in d.attempts() {
        out.push_str(&format!(
            "\nattempt {} — quorum result {} ({:?})\n",
            attempt.attempt, attempt.tally, attempt.status
        ));
        let mut table = Table::new(&[
            "perspective",
            "RIR",
            "region",
            "result",
            "signed report",
            "detail",
        ]);
        for r in &attempt.results {
            table.row(vec![
                r.perspective_id.clone(),
                r.rir.as_str().to_owned(),
                r.region.clone(),
                r.status.summary(),
                if r.report.is_some() { "yes" } else { "-" }.into(),
                short(r.detail.as_deref().unwrap_or(""), 60),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    if let Some(p) = d.primary() {
        out.push_str(&format!(
            "\nprimary     {:?}: {}\n",
            p.verdict,
            short(&p.reason, 100)
        ));
    }
    if !stored.late.is_empty() {
        out.push_str("\narrived after the decision (never counted):\n");
        for late in &stored.late {
            out.push_str(&format!(
                "  attempt {} {} {} at {} UTC\n",
                late.attempt,
                late.result.perspective_id,
                late.result.status.summary(),
                time_text(late.arrived_at_ms)
            ));
        }
    }
    out.push_str(&format!(
        "\nclient      {}\n\
         writer      {} #{}\n\
         hash        {}\n\
         previous    {}\n\
         signed by   {}\n\
         config      sha256:{}",
        body.client.as_deref().unwrap_or("- (command line)"),
        body.writer,
        body.sequence,
        record::hex(&stored.sealed.hash),
        body.previous_hash,
        body.coordinator_key,
        body.config_digest,
    ));
    out
}

fn audit_lines(audit: &RecordAudit) -> String {
    if audit.passed() {
        return format!(
            "ok    {}  (signed requests {}, corroborating reports {}, late reports {})",
            audit.id, audit.requests_verified, audit.reports_verified, audit.late_verified
        );
    }
    let mut out = format!("FAIL  {}", audit.id);
    for finding in &audit.findings {
        out.push_str(&format!("\n      {finding}"));
    }
    out
}

fn parse_keys(texts: &[String]) -> anyhow::Result<Vec<VerifyingKey>> {
    texts
        .iter()
        .map(|text| {
            keys::parse_verifying_key(text)
                .map_err(|e| anyhow::anyhow!("--trusted-key {text:?}: {e}"))
        })
        .collect()
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut trusted = parse_keys(&args.trusted_keys)?;
    if let Some(path) = &args.bundle {
        // A configuration only lends its keys here; the bundle needs no store.
        if args.store.config.exists() {
            trusted.extend(evidence::trusted_keys(&Config::load(&args.store.config)?));
        }
        if trusted.is_empty() {
            anyhow::bail!(
                "--bundle needs the coordinator keys to trust: --trusted-key ed25519:… (or --config)"
            );
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let bundle: Bundle = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an evidence bundle", path.display()))?;
        let stored = bundle.into_stored()?;
        let audit = audit::audit_record(&stored, &trusted);
        stdout::line(audit_lines(&audit))?;
        if let Ok(body) = body_of(&stored) {
            stdout::line(format!("      signed by {}", body.coordinator_key))?;
        }
        return Ok(exit(audit.passed()));
    }
    let (config, store) = open(&args.store, false).await?;
    trusted.extend(evidence::trusted_keys(&config));
    if let Some(id) = &args.id {
        let audit = audit::audit_record(&get(&store, id).await?, &trusted);
        stdout::line(audit_lines(&audit))?;
        return Ok(exit(audit.passed()));
    }
    // The whole store, a page at a time, in chain order.
    let boundaries = store.prune_boundaries().await?;
    let mut chains = audit::ChainAudit::new(&boundaries, &trusted);
    let (mut checked, mut failed) = (0u64, 0u64);
    let mut after: Option<(String, u64)> = None;
    loop {
        let page = store.page_after(after.as_ref(), evidence::PAGE).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some((
            last.sealed.columns.writer.clone(),
            last.sealed.columns.sequence,
        ));
        for stored in &page {
            let audit = audit::audit_record(stored, &trusted);
            checked += 1;
            if !audit.passed() {
                failed += 1;
            }
            stdout::line(audit_lines(&audit))?;
            chains.add(stored);
        }
    }
    if checked == 0 {
        stdout::line(format!(
            "no records in {}: nothing was verified",
            store.describe()
        ))?;
        return Ok(exit(false));
    }
    let mut chain_ok = true;
    if args.chain {
        let breaks = chains.finish(&store.chain_heads().await?);
        chain_ok = breaks.is_empty();
        for b in &breaks {
            stdout::line(format!("CHAIN {b}"))?;
        }
        if chain_ok {
            stdout::line(format!(
                "chain ok ({} prune cut(s) accounted for)",
                boundaries.len()
            ))?;
        }
    }
    stdout::line(format!(
        "{checked} record(s) checked, {failed} failed{}",
        if args.chain {
            if chain_ok {
                "; chains intact"
            } else {
                "; CHAIN BROKEN"
            }
        } else {
            ""
        }
    ))?;
    Ok(exit(failed == 0 && chain_ok))
}

fn exit(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_CORROBORATED)
    }
}

async fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let (config, store) = open(&args.store, !args.dry_run).await?;
    let now = mpic_coordinator::now_ms();
    let cutoff = now.saturating_sub(u64::from(config.evidence.keep_days) * DAY_MS);
    if args.dry_run {
        let older = store
            .count(&ListFilter {
                until_ms: Some(cutoff),
                ..ListFilter::default()
            })
            .await?;
        stdout::line(format!(
            "would delete up to {older} record(s) decided before {} UTC (keep_days = {})",
            time_text(cutoff),
            config.evidence.keep_days
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let boundaries = store.prune(cutoff, now, &config.signing_key).await?;
    let deleted: u64 = boundaries.iter().map(|b| b.deleted).sum();
    for b in &boundaries {
        stdout::line(format!(
            "writer {}: deleted {} record(s) up to #{} (its hash {} is kept for the chain)",
            b.writer,
            b.deleted,
            b.last_sequence,
            record::hex(&b.last_hash)
        ))?;
    }
    tracing::warn!(target: "mpic::evidence", deleted, cutoff_ms = cutoff, keep_days = config.evidence.keep_days, "pruned evidence records");
    stdout::line(format!(
        "deleted {deleted} record(s) decided before {} UTC (keep_days = {})",
        time_text(cutoff),
        config.evidence.keep_days
    ))?;
    Ok(ExitCode::SUCCESS)
}
