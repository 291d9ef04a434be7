//! A bounded load test of the coordinator as operators run it: the real
//! `mpic serve` binary as a child process, [`CONCURRENCY`] checks in flight
//! through `POST /mpic` for [`RUN_FOR`], against eight native loopback
//! perspectives that really run each CAA check (DoH fixture, signed
//! reports), three of which misbehave: one answers HTTP 500, one never
//! answers (until the call timeout or cancellation), one resets the
//! connection.
//!
//! Cohorts are six of the eight, chosen by keyed hash per domain, so a check
//! whose cohort holds all three bad perspectives cannot reach the BR quorum
//! (4 of 6) and the others can. The test asserts consistency, not a fixed
//! valid/invalid split:
//! * every request issued got exactly one answer, a 200 (a 503 from the
//!   `max_concurrent_checks` limit would be counted separately; the limit
//!   equals the concurrency, so there must be none);
//! * every body is a well-formed Open MPIC response about the domain (and
//!   trace identifier) it was asked about, with our evidence;
//! * `is_valid` agrees with the perspectives listed (BR quorum and RIR
//!   diversity among the corroborating ones), each corroboration carries a
//!   report signed by that perspective about that domain, and no
//!   misbehaving perspective ever corroborates;
//! * the coordinator's `/metrics` counted exactly as many decisions as there
//!   were 200 answers (none decided twice, none decided and lost);
//! * its resident memory stays under a cap and does not keep growing.
//!
//! Only 127.0.0.1 is used; every loop is bounded in time; every server and
//! the child process are stopped on every exit path.
//!
//! It takes about 70 s, so it is ignored by default; run it optimised (the
//! `mpic` binary is built in the same profile):
//! `cargo test -p mpic-tests --profile dist --test load -- --ignored --nocapture`.
//! A debug build is too slow for 1,000 concurrent checks on two cores: one
//! managed 39 decisions a second and nearly every call timed out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::Signature;
use futures_util::future::join_all;
use mpic_coordinator::testing::OpenMpicSchema;
use mpic_coordinator::{AttemptRecord, ResultStatus};
use mpic_core::caa::{CaaObservation, CaaOutcome};
use mpic_core::perspective::CheckObservation;
use mpic_core::quorum::{NonCorroboration, Requirements, br_minimum_corroborations};
use mpic_core::report::Verdict;
use mpic_core::rir::Rir;
use mpic_tests::coordinator_process::{CoordinatorProcess, new_api_key};
use mpic_tests::dns_fixture::{DnsWorld, DohServer};
use mpic_tests::keys;
use mpic_tests::memory_watch::{MemoryWatch, RssSummary};
use mpic_tests::native_perspective::{Behaviour, NativePerspective, PerspectiveSetup};
use mpic_tests::world::{SIX_SITES, Site};
use serde_json::Value;

/// The coordinator's cohort secret in this test (never to be logged).
const COHORT_SECRET: &str = "load-test cohort secret, at least thirty-two bytes";

/// One run's shape.
struct Plan {
    /// Checks in flight at all times.
    concurrency: usize,
    /// How long new checks are started.
    run_for: Duration,
    /// A perspective call's timeout: what a hung perspective costs a check.
    call_timeout_ms: u64,
    /// Whether to assert on memory (a short run has too few samples).
    check_memory: bool,
}

/// The load test the issue asks for.
///
/// The call timeout is not shorter: on two cores shared by the coordinator,
/// the perspectives, the DoH fixture and the driver, a check waits ~3 s for
/// CPU when the rig is saturated. With 2 s nearly every honest call timed
/// out (44 valid of 21,697 checks in one run, `--profile dist`), so the test
/// only saw the invalid path. With 10 s the checks held by the hung
/// perspective (those whose cohort cannot reach quorum without it) pace the
/// load instead, and both outcomes occur: in measured runs 6,000 of 16,777
/// checks waited the full 10 s, ~180 others a second were decided in
/// between, the coordinator's gauge showed ~1,000 checks in flight, and it
/// used about half a core.
const LOAD: Plan = Plan {
    concurrency: 1_000,
    run_for: Duration::from_secs(60),
    call_timeout_ms: 10_000,
    check_memory: true,
};

/// The same, small and short enough for every test run (debug builds too),
/// so the harness is exercised even when the load test is not run.
const SMOKE: Plan = Plan {
    concurrency: 20,
    run_for: Duration::from_secs(3),
    call_timeout_ms: 2_000,
    check_memory: false,
};

/// Bound on one check's HTTP request from the driver.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on waiting for the checks in flight at the end.
const DRAIN_LIMIT: Duration = Duration::from_secs(45);
const COHORT_SIZE: usize = 6;
/// Open files each process may need: the driver's connections, one
/// connection per perspective call in flight (up to six per check), the
/// perspectives' DoH connections (bounded by their check limit), and slack.
/// The coordinator, which inherits the limit, needs about as many.
const OPEN_FILES_NEEDED: u64 = 12_000;
/// The coordinator's resident memory must stay under this. Measured peaks
/// on a 2-core machine (`--profile dist`): 190, 192, 198 and 215 MiB with
/// [`LOAD`], 220 MiB in a run with a 2 s call timeout (more checks a second);
/// the cap is about four times the highest.
const MEMORY_CAP_KIB: u64 = 896 * 1024;
/// Memory that keeps growing: the last third's peak over the first third's
/// times this plus [`GROWTH_SLACK_KIB`]. The first third includes the ramp
/// (connections, pools and the checks held by the hung perspective all
/// reach their steady numbers within ~10 s). Measured (first -> last third
/// peak, MiB): 185.5 -> 192.3, 183.7 -> 189.8, 208.3 -> 214.9,
/// 192.1 -> 197.8, and 200.8 -> 219.9 with the 2 s timeout: at most x1.10 or
/// +19 MiB. The allowance is about +80 MiB at those sizes.
const GROWTH_FACTOR: f64 = 1.25;
const GROWTH_SLACK_KIB: u64 = 32 * 1024;
/// Failure messages kept for the report (the count is always exact).
const MAX_FAILURES_SHOWN: usize = 20;

/// The six test sites plus two more, all pairwise more than 500 km apart.
fn sites() -> Vec<Site> {
    let mut sites = SIX_SITES.to_vec();
    sites.push(Site {
        id: "eu-central",
        rir: Rir::RipeNcc,
        region: "Frankfurt",
        latitude: 50.11,
        longitude: 8.68,
    });
    sites.push(Site {
        id: "ap-northeast",
        rir: Rir::Apnic,
        region: "Tokyo",
        latitude: 35.68,
        longitude: 139.69,
    });
    sites
}

/// The misbehaving ones; the five others (one per RIR) are honest.
fn behaviour(id: &str) -> Behaviour {
    match id {
        "us-west" => Behaviour::ServerError,
        "eu-central" => Behaviour::Hang,
        "ap-northeast" => Behaviour::Reset,
        _ => Behaviour::Honest,
    }
}

const ZONE: &str = r#"
$TTL 60
$ORIGIN load.example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 127.0.0.1
@ CAA 0 issue "ca.example"
"#;

fn domain(n: u64) -> String {
    format!("c{n}.load.example")
}

fn trace(n: u64) -> String {
    format!("load-{n}")
}

/// One configured perspective, as the test knows it.
struct Known {
    rir: Rir,
    behaviour: Behaviour,
    key: ed25519_dalek::VerifyingKey,
}

fn config_toml(
    plan: &Plan,
    perspectives: &[(Site, String, ed25519_dalek::VerifyingKey)],
    key_sha256: &str,
) -> String {
    let mut toml = format!(
        r#"[coordinator]
signing_key = "{signing_key}"
cohort_secret = "{COHORT_SECRET}"

[defaults]
perspective_count = {COHORT_SIZE}
quorum = "br"
call_timeout_ms = {call_timeout_ms}
deadline_ms = {deadline}
max_attempts = 1
caa_issuer_domains = ["ca.example"]
max_report_age_ms = 120000
max_future_skew_ms = 5000

[api]
max_concurrent_checks = {concurrency}

[[api.client]]
name = "load-test"
key_sha256 = "{key_sha256}"
"#,
        signing_key = keys::seed_text(&keys::coordinator()),
        call_timeout_ms = plan.call_timeout_ms,
        deadline = plan.call_timeout_ms * 2,
        concurrency = plan.concurrency,
    );
    for (site, url, key) in perspectives {
        toml.push_str(&site.perspective_toml(url, key));
    }
    toml
}

/// What one answered check showed.
#[derive(Debug, Clone, Copy, Default)]
struct Checked {
    valid: bool,
    /// Members of the cohort that misbehave.
    bad_in_cohort: usize,
    /// Calls other than to the hung perspective that timed out (only when
    /// the machine is overloaded).
    other_timeouts: usize,
}

/// The part of a response that carries the evidence.
#[derive(serde::Deserialize)]
struct Evidence {
    x_mpic: EvidenceAttempts,
}

#[derive(serde::Deserialize)]
struct EvidenceAttempts {
    attempts: Vec<AttemptRecord>,
}

/// What one request came to.
#[derive(Debug)]
enum Outcome {
    Checked(Checked),
    /// 503 from the `max_concurrent_checks` limit.
    Busy,
    Failed(String),
}

/// The Open MPIC 3.9 document's validators, compiled once.
static SCHEMA: std::sync::LazyLock<OpenMpicSchema> =
    std::sync::LazyLock::new(|| OpenMpicSchema::load().expect("the 3.9 document compiles"));

/// One answer in this many is also checked against the Open MPIC 3.9
/// schema (all of them would take CPU from the coordinator under test).
const SCHEMA_SAMPLE: u64 = 64;

/// Judges one 200 body; every problem is a failure message.
fn judge(
    n: u64,
    body: &[u8],
    known: &BTreeMap<String, Known>,
    requirements: Requirements,
) -> Result<Checked, String> {
    let asked = domain(n);
    let json: Value =
        serde_json::from_slice(body).map_err(|e| format!("{asked}: body is not JSON: {e}"))?;
    let fail = |what: String| format!("{asked}: {what}; body: {json}");
    if n.is_multiple_of(SCHEMA_SAMPLE) {
        let errors = SCHEMA.response_errors(200, &json);
        if !errors.is_empty() {
            return Err(fail(format!(
                "does not fit the Open MPIC 3.9 schema: {errors:?}"
            )));
        }
    }
    let text = |key: &str| json.get(key).and_then(Value::as_str);
    if text("check_type") != Some("caa") {
        return Err(fail("check_type is not caa".into()));
    }
    if text("domain_or_ip_target") != Some(asked.as_str()) {
        return Err(fail("answers about another domain".into()));
    }
    if text("trace_identifier") != Some(trace(n).as_str()) {
        return Err(fail("trace_identifier is not the request's".into()));
    }
    let Some(valid) = json["is_valid"].as_bool() else {
        return Err(fail("is_valid is not a boolean".into()));
    };
    let required = br_minimum_corroborations(COHORT_SIZE);
    let actual = &json["actual_orchestration_parameters"];
    if actual["perspective_count"] != COHORT_SIZE
        || actual["attempt_count"] != 1
        || actual["quorum_count"] != required
    {
        return Err(fail(format!("actual_orchestration_parameters {actual}")));
    }
    if json["previous_attempt_results"] != Value::Array(Vec::new()) {
        return Err(fail("previous_attempt_results is not empty".into()));
    }
    // Parsed from the bytes, not from `json`: observations are signed JSON
    // text, which a `Value` would reorder.
    let attempts = serde_json::from_slice::<Evidence>(body)
        .map_err(|e| fail(format!("x_mpic.attempts does not parse: {e}")))?
        .x_mpic
        .attempts;
    let [attempt] = attempts.as_slice() else {
        return Err(fail(format!("{} attempts, not 1", attempts.len())));
    };
    let Some(listed) = json["perspectives"].as_array() else {
        return Err(fail("perspectives is not an array".into()));
    };
    let codes: Vec<&str> = listed
        .iter()
        .filter_map(|p| p["perspective_code"].as_str())
        .collect();
    let unique: BTreeSet<&str> = codes.iter().copied().collect();
    // The response lists those with a verified report first, each group in
    // cohort order.
    let mut ordered: Vec<_> = attempt.results.iter().collect();
    ordered.sort_by_key(|r| r.verified.is_none());
    let in_cohort: BTreeSet<&str> = attempt.cohort.iter().map(String::as_str).collect();
    if codes.len() != COHORT_SIZE
        || unique.len() != COHORT_SIZE
        || unique != in_cohort
        || codes
            != ordered
                .iter()
                .map(|r| r.perspective_id.as_str())
                .collect::<Vec<_>>()
        || attempt.results.len() != COHORT_SIZE
        || !codes.iter().all(|c| known.contains_key(*c))
    {
        return Err(fail(
            "cohort is not six distinct configured perspectives".into(),
        ));
    }

    // Open MPIC's rule: no more perspectives failed to complete than the
    // quorum allows.
    let not_completed = listed
        .iter()
        .filter(|p| p["check_response"]["check_completed"] != true)
        .count();
    let completed = not_completed <= COHORT_SIZE - required;
    if json["mpic_completed"] != completed {
        return Err(fail(format!(
            "mpic_completed is not {completed} with {not_completed} not completed"
        )));
    }
    let mut checked = Checked {
        valid,
        ..Checked::default()
    };
    let mut corroborating_rirs = BTreeSet::new();
    let mut corroborations = 0;
    for (entry, &result) in listed.iter().zip(&ordered) {
        let id = result.perspective_id.as_str();
        let perspective = &known[id];
        if entry["perspective_code"] != id || result.rir != perspective.rir {
            return Err(fail(format!("{id}: result out of order or wrong RIR")));
        }
        let passed = result.status == ResultStatus::Corroborated;
        let entry = &entry["check_response"];
        if entry["check_passed"] != passed {
            return Err(fail(format!(
                "{id}: check_passed disagrees with the evidence"
            )));
        }
        let errors_named = entry["errors"]
            .as_array()
            .is_some_and(|e| e.len() == 1 && e[0]["error_type"].is_string());
        if entry["check_type"] != "caa"
            || !entry["timestamp_ns"].is_u64()
            || (passed && !entry["errors"].is_null())
            || (!passed && !errors_named)
        {
            return Err(fail(format!("{id}: malformed perspective entry")));
        }
        if perspective.behaviour != Behaviour::Honest {
            checked.bad_in_cohort += 1;
        }
        let expected = match (&perspective.behaviour, &result.status) {
            (_, ResultStatus::Cancelled) => true,
            // Any call can time out when the machine is overloaded; only a
            // hung perspective must.
            (
                behaviour,
                ResultStatus::NotCorroborated {
                    reason: NonCorroboration::Timeout,
                },
            ) => {
                if *behaviour != Behaviour::Hang {
                    checked.other_timeouts += 1;
                }
                true
            }
            (Behaviour::Honest, ResultStatus::Corroborated) => true,
            (
                Behaviour::ServerError,
                ResultStatus::NotCorroborated {
                    reason: NonCorroboration::Unreachable { detail },
                },
            ) => detail.contains("HTTP 500"),
            (
                Behaviour::Reset,
                ResultStatus::NotCorroborated {
                    reason: NonCorroboration::Unreachable { .. },
                },
            ) => true,
            _ => false,
        };
        if !expected {
            return Err(fail(format!(
                "{id} ({:?}) ended as {:?}",
                perspective.behaviour, result.status
            )));
        }
        if passed {
            corroborations += 1;
            corroborating_rirs.insert(result.rir);
            corroboration_is_genuine(&asked, id, perspective, result)
                .map_err(|e| fail(format!("{id}: {e}")))?;
        }
    }
    let quorum_met =
        corroborations >= required && corroborating_rirs.len() >= requirements.min_rirs;
    if valid != quorum_met {
        return Err(fail(format!(
            "is_valid {valid} but {corroborations} corroborations from {} RIRs (need {required} from {})",
            corroborating_rirs.len(),
            requirements.min_rirs
        )));
    }
    if valid && corroborating_rirs.len() < 2 {
        return Err(fail("valid with corroborations from one RIR".into()));
    }
    // What the cohort predicts: three bad members leave at most three
    // corroborations; with at most two, four honest ones answer.
    let predicted = checked.bad_in_cohort <= 2 && checked.other_timeouts == 0;
    if checked.bad_in_cohort == 3 && valid || predicted && !valid {
        return Err(fail(format!(
            "is_valid {valid} with {} misbehaving members",
            checked.bad_in_cohort
        )));
    }
    Ok(checked)
}

/// A corroboration rests on a report that this perspective signed, that
/// says pass, and that observed a permitting CAA set for the domain asked.
fn corroboration_is_genuine(
    asked: &str,
    id: &str,
    perspective: &Known,
    result: &mpic_coordinator::PerspectiveResult,
) -> Result<(), String> {
    let (Some(signed), Some(body)) = (&result.report, &result.verified) else {
        return Err("corroborated without a verified report".into());
    };
    let signature = Signature::from_slice(&signed.signature).map_err(|e| e.to_string())?;
    perspective
        .key
        .verify_strict(&signed.report, &signature)
        .map_err(|_| "report signature does not verify".to_owned())?;
    let signed_bytes = body.to_signed_bytes().map_err(|e| e.to_string())?;
    if signed_bytes != signed.report {
        return Err("verified contents are not what was signed".into());
    }
    if body.perspective_id != id || body.verdict != Verdict::Pass {
        return Err(format!(
            "report from {} says {:?}",
            body.perspective_id, body.verdict
        ));
    }
    match body.observation.parse::<CheckObservation>() {
        Ok(CheckObservation::Caa(CaaObservation {
            domain,
            outcome: CaaOutcome::Permitted { .. },
            ..
        })) if domain == asked => Ok(()),
        other => Err(format!(
            "observation is not a permitted CAA check of {asked}: {other:?}"
        )),
    }
}

/// Starts checks until `stop_at`, one at a time; one outcome per request.
async fn drive(
    client: reqwest::Client,
    url: Arc<str>,
    api_key: Arc<str>,
    next: Arc<AtomicU64>,
    stop_at: Instant,
    known: Arc<BTreeMap<String, Known>>,
    requirements: Requirements,
) -> Vec<(u64, Outcome)> {
    let mut outcomes = Vec::new();
    while Instant::now() < stop_at {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let request = serde_json::json!({
            "check_type": "caa",
            "domain_or_ip_target": domain(n),
            "trace_identifier": trace(n),
        });
        let answer = client
            .post(&*url)
            .bearer_auth(&*api_key)
            .json(&request)
            .send()
            .await;
        let outcome = match answer {
            Err(e) => Outcome::Failed(format!("{}: no answer: {e}", domain(n))),
            Ok(response) => {
                let status = response.status();
                match response.bytes().await {
                    Err(e) => Outcome::Failed(format!("{}: body lost: {e}", domain(n))),
                    Ok(body) if status == reqwest::StatusCode::OK => {
                        match judge(n, &body, &known, requirements) {
                            Ok(checked) => Outcome::Checked(checked),
                            Err(e) => Outcome::Failed(e),
                        }
                    }
                    Ok(body) if status == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        if json["error"].is_string() {
                            Outcome::Busy
                        } else {
                            Outcome::Failed(format!("{}: 503 without an error body", domain(n)))
                        }
                    }
                    Ok(body) => Outcome::Failed(format!(
                        "{}: HTTP {status}: {}",
                        domain(n),
                        String::from_utf8_lossy(&body)
                    )),
                }
            }
        };
        outcomes.push((n, outcome));
    }
    outcomes
}

/// The sum of a metric's samples whose line starts with `prefix`.
fn metric_sum(metrics: &str, prefix: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Raises this process's soft limit on open files to [`OPEN_FILES_NEEDED`]
/// (the child inherits it); many systems start at 1,024.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft >= OPEN_FILES_NEEDED {
        return;
    }
    assert!(
        hard >= OPEN_FILES_NEEDED,
        "this test needs {OPEN_FILES_NEEDED} open files but the hard limit is {hard}: raise `ulimit -Hn`"
    );
    setrlimit(Resource::RLIMIT_NOFILE, OPEN_FILES_NEEDED, hard).unwrap();
}

/// CPU seconds (user + system) a process has used so far, from
/// `/proc/<pid>/stat` (clock ticks of 1/100 s).
fn cpu_seconds(pid: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After `pid (comm) `: field 14 and 15 of stat(5) are utime and stime.
    let fields: Vec<&str> = text
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Open file descriptors of a process.
fn open_files(pid: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "60 s load test: scripts/test runs it with --ignored"]
async fn a_thousand_concurrent_checks_for_a_minute_with_failing_perspectives() {
    run(&LOAD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_with_failing_perspectives_is_consistent() {
    run(&SMOKE).await;
}

/// Runs `plan` and asserts everything the module documentation lists.
async fn run(plan: &Plan) {
    raise_open_files_limit();
    let dns = DohServer::start(DnsWorld::from_zone_text(ZONE).unwrap())
        .await
        .unwrap();
    let mut perspectives = Vec::new();
    let mut configured = Vec::new();
    let mut known = BTreeMap::new();
    for (i, site) in sites().into_iter().enumerate() {
        let key = keys::perspective(u8::try_from(i + 1).unwrap());
        let behaviour = behaviour(site.id);
        let setup = PerspectiveSetup::at_site(&site, key.clone(), dns.url_for(site.id), behaviour);
        let perspective = NativePerspective::start(setup).await.unwrap();
        known.insert(
            site.id.to_owned(),
            Known {
                rir: site.rir,
                behaviour,
                key: key.verifying_key(),
            },
        );
        configured.push((site.clone(), perspective.base_url(), key.verifying_key()));
        perspectives.push((site.id, perspective));
    }
    let api_key = new_api_key().unwrap();
    let mut coordinator =
        CoordinatorProcess::start(&config_toml(plan, &configured, &api_key.key_sha256), "info")
            .await
            .unwrap();
    let pid = coordinator.pid();
    let memory = MemoryWatch::start(pid, Duration::from_secs(1), 600).unwrap();
    let requirements = Requirements::for_unix_ms(mpic_coordinator::now_ms());

    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(plan.concurrency)
        .build()
        .unwrap();
    let url: Arc<str> = format!("{}/mpic", coordinator.base_url()).into();
    let key: Arc<str> = api_key.key.as_str().into();
    let known = Arc::new(known);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let stop_at = started + plan.run_for;
    let child = pid.to_string();
    let cpu_before = (cpu_seconds(&child), cpu_seconds("self"));
    // Halfway through, when every connection is up: open files, and the
    // checks the coordinator itself says it is running.
    let run_for = plan.run_for;
    let metrics_url = format!("{}/metrics", coordinator.base_url());
    let (metrics_client, metrics_key) = (client.clone(), api_key.key.clone());
    let midway = tokio::spawn(async move {
        tokio::time::sleep(run_for / 2).await;
        let files = (open_files(&child), open_files("self"));
        let metrics = metrics_client
            .get(metrics_url)
            .bearer_auth(metrics_key)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some((files, metric_sum(&metrics, "mpic_checks_in_flight ")))
    });
    let drivers: Vec<_> = (0..plan.concurrency)
        .map(|_| {
            tokio::spawn(drive(
                client.clone(),
                Arc::clone(&url),
                Arc::clone(&key),
                Arc::clone(&next),
                stop_at,
                Arc::clone(&known),
                requirements,
            ))
        })
        .collect();
    let joined = tokio::time::timeout(plan.run_for + DRAIN_LIMIT, join_all(drivers)).await;
    let elapsed = started.elapsed();
    let samples = memory.finish();
    let cpu = (
        cpu_seconds(&pid.to_string()) - cpu_before.0,
        cpu_seconds("self") - cpu_before.1,
    );
    let ((child_files, own_files), in_flight_midway) =
        midway.await.unwrap().expect("no /metrics halfway through");
    assert!(
        coordinator.is_running(),
        "mpic serve died:\n{}",
        coordinator.log()
    );
    // Calls still running at a decision run on until their timeout (their
    // late results are kept), each on a pooled connection: the coordinator
    // holds at most a client connection and a cohort of calls per check in
    // flight, plus as many again for the calls that run on. Anything that
    // grew with the number of decisions would pass this by far.
    let files_bound = plan.concurrency * (1 + 2 * COHORT_SIZE);
    assert!(
        child_files <= files_bound,
        "the coordinator held {child_files} open files halfway, over {files_bound}"
    );
    let joined = joined
        .unwrap_or_else(|_| panic!("checks still in flight {DRAIN_LIMIT:?} after the run ended"));

    // Exactly one outcome per request issued.
    let issued = next.load(Ordering::Relaxed);
    let mut answers = vec![0u8; usize::try_from(issued).unwrap()];
    let (mut valid, mut invalid, mut busy, mut other_timeouts) = (0u64, 0u64, 0u64, 0u64);
    let mut by_bad_members = [0u64; 4];
    let mut failures = Vec::new();
    let mut failure_count = 0u64;
    for driver in joined {
        for (n, outcome) in driver.expect("a driver task panicked") {
            answers[usize::try_from(n).unwrap()] += 1;
            match outcome {
                Outcome::Checked(checked) => {
                    if checked.valid {
                        valid += 1;
                    } else {
                        invalid += 1;
                    }
                    by_bad_members[checked.bad_in_cohort] += 1;
                    other_timeouts += checked.other_timeouts as u64;
                }
                Outcome::Busy => busy += 1,
                Outcome::Failed(message) => {
                    failure_count += 1;
                    if failures.len() < MAX_FAILURES_SHOWN {
                        failures.push(message);
                    }
                }
            }
        }
    }
    let decided = valid + invalid;

    let metrics = client
        .get(format!("{}/metrics", coordinator.base_url()))
        .bearer_auth(&api_key.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let decisions_counted = metric_sum(&metrics, "mpic_decisions_total{");
    let ok_counted = metric_sum(
        &metrics,
        "mpic_http_requests_total{route=\"/mpic\",status=\"200\"}",
    );
    let busy_counted = metric_sum(
        &metrics,
        "mpic_http_requests_total{route=\"/mpic\",status=\"503\"}",
    );
    let in_flight = metric_sum(&metrics, "mpic_checks_in_flight ");

    let counts: Vec<_> = perspectives
        .iter()
        .map(|(id, p)| (*id, p.behaviour(), p.counts()))
        .collect();
    let rss = RssSummary::of(&samples);
    let load_window: Vec<_> = samples
        .iter()
        .copied()
        .filter(|s| s.at <= plan.run_for)
        .collect();
    let load_rss = RssSummary::of(&load_window);
    let log_bytes = coordinator.log_len();

    let concurrency = plan.concurrency;
    println!(
        "load: {issued} checks in {:.1} s ({:.0} decisions/s) at {concurrency} in flight; \
         {valid} valid, {invalid} invalid, {busy} busy (503), {failure_count} failed",
        elapsed.as_secs_f64(),
        decided as f64 / elapsed.as_secs_f64(),
    );
    println!("checks in flight halfway (coordinator's gauge): {in_flight_midway}");
    println!(
        "cohorts with 0/1/2/3 misbehaving members: {by_bad_members:?}; calls to perspectives other than the hung one timed out {other_timeouts} times"
    );
    if let (Some(rss), Some(load_rss)) = (rss, load_rss) {
        println!(
            "coordinator RSS: min {:.1} MiB, max {:.1} MiB; during the load: first third peak \
             {:.1} MiB, last third peak {:.1} MiB ({} samples)",
            mib(rss.min_kib),
            mib(rss.max_kib),
            mib(load_rss.first_third_peak_kib),
            mib(load_rss.last_third_peak_kib),
            rss.samples,
        );
    }
    println!(
        "CPU: coordinator {:.1} s, test process (driver, perspectives, DoH) {:.1} s; \
         open files halfway: coordinator {child_files}, test process {own_files}; log {:.1} MiB",
        cpu.0,
        cpu.1,
        log_bytes as f64 / 1_048_576.0
    );
    for (id, behaviour, c) in &counts {
        println!(
            "  {id:<13} {behaviour:<11?} received {:>6}, reports {:>6}, refused {}",
            c.received, c.reports, c.refused
        );
    }
    for message in &failures {
        println!("FAILED: {message}");
    }

    // Stop everything before asserting, so a failed assertion leaves nothing
    // running (the guards would too, but without waiting).
    let log = coordinator.log();
    let exit = coordinator.stop().await.unwrap();
    for (_, perspective) in perspectives {
        perspective.stop().await;
    }
    dns.stop().await;

    assert_eq!(failure_count, 0, "failed checks, first ones: {failures:#?}");
    let unanswered = answers.iter().filter(|&&a| a == 0).count();
    let twice = answers.iter().filter(|&&a| a > 1).count();
    assert_eq!(
        (unanswered, twice),
        (0, 0),
        "requests unanswered, answered twice"
    );
    assert_eq!(busy, 0, "503s with max_concurrent_checks = concurrency");
    assert!(
        decided > plan.concurrency as u64,
        "only {decided} checks decided"
    );
    assert_eq!(decided, decisions_counted, "decisions in /metrics");
    assert_eq!(decided, ok_counted, "200s in /metrics");
    assert_eq!(busy, busy_counted, "503s in /metrics");
    assert_eq!(in_flight, 0, "checks in flight after the run");
    assert!(
        in_flight_midway >= plan.concurrency as u64 / 2,
        "only {in_flight_midway} checks in flight halfway"
    );
    assert!(
        valid > 0 && invalid > 0,
        "the cohorts should vary: {valid} valid, {invalid} invalid"
    );
    for (id, behaviour, c) in &counts {
        assert!(c.received > 0, "{id} was never called");
        if *behaviour == Behaviour::Honest {
            assert_eq!(c.refused, 0, "{id} refused the coordinator's requests");
            assert!(c.reports > 0, "{id} never reported");
        }
    }
    assert!(
        exit.success(),
        "mpic serve did not stop cleanly on SIGTERM: {exit}"
    );
    // A whole run's info log, failures included, holds no secret.
    let seed = keys::seed_text(&keys::coordinator());
    let secrets = [
        ("the API key", api_key.key.as_str()),
        (
            "the coordinator's seed",
            seed.trim_start_matches("ed25519-seed:"),
        ),
        ("the cohort secret", COHORT_SECRET),
    ];
    for (what, secret) in secrets {
        assert!(!log.contains(secret), "the coordinator logged {what}");
    }
    if !plan.check_memory {
        return;
    }
    let (Some(rss), Some(load_rss)) = (rss, load_rss) else {
        panic!("too few memory samples: {samples:?}");
    };
    assert!(
        rss.max_kib <= MEMORY_CAP_KIB,
        "coordinator RSS peaked at {:.1} MiB, over the {:.0} MiB cap",
        mib(rss.max_kib),
        mib(MEMORY_CAP_KIB)
    );
    assert!(
        !load_rss.kept_growing(GROWTH_FACTOR, GROWTH_SLACK_KIB),
        "coordinator RSS kept growing under a steady load: last third peak {:.1} MiB, first third {:.1} MiB",
        mib(load_rss.last_third_peak_kib),
        mib(load_rss.first_third_peak_kib)
    );
}
