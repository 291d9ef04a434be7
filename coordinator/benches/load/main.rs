//! Coordinator load benchmark: N in-process perspectives on loopback HTTP,
//! driven through the real `Coordinator` and `HttpTransport` at a fixed
//! concurrency for a fixed number of checks. Not a test: it asserts nothing
//! about speed, it measures and prints (see BENCHMARKS.md).
//!
//! ```text
//! cargo bench -p mpic-coordinator --bench load -- --concurrency 1000 --checks 20000
//! cargo bench -p mpic-coordinator --bench load -- --slow 2 --slow-delay-ms 10000
//! ```
//!
//! The perspectives run on their own tokio runtime (threads named
//! `perspectives`), the coordinator and its HTTP client on another
//! (`coordinator`), so CPU time is reported for each: the perspectives' share
//! is not the coordinator's cost, since in production they run elsewhere.
//!
//! Coordinator overhead per decision is the time from the arrival of the
//! answer that made quorum certain (when the transport handed it to the
//! fan-out, recorded by a wrapper around `HttpTransport`) to `check`
//! returning: verifying that report, `decide`, cancelling the calls still
//! running, building the evidence, logging. The fan-out judges answers in
//! arrival order and stops at the deciding one, so the deciding answer is
//! the last to arrive among those judged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod perspective_server;
mod process_stats;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use ed25519_dalek::SigningKey;
use mpic_coordinator::evidence::{EvidenceStore, RecordContext, Recorder, StoreLocation};
use mpic_coordinator::{CallError, Coordinator, Decision, HttpTransport, PerspectiveTransport};
use mpic_coordinator::{Config, Defaults, PerspectiveConfig};
use mpic_core::check::CheckRequest;
use mpic_core::location::{Coordinates, Location};
use mpic_core::name::DomainName;
use mpic_core::perspective::Identity;
use mpic_core::quorum::Policy;
use mpic_core::report::SignedReport;
use mpic_core::request_auth::RequestEnvelope;
use mpic_core::rir::Rir;
use url::Url;
use zeroize::Zeroizing;

use perspective_server::{Delay, SentTimes};
use process_stats::{Percentiles, human};

/// Perspective sites pairwise more than 500 km apart (so any of them can
/// share a cohort) in all five RIRs: (id, RIR, latitude, longitude).
const SITES: [(&str, Rir, f64, f64); 16] = [
    ("us-east", Rir::Arin, 39.04, -77.49),
    ("eu-west", Rir::RipeNcc, 53.35, -6.26),
    ("ap-southeast", Rir::Apnic, 1.35, 103.82),
    ("sa-east", Rir::Lacnic, -23.55, -46.63),
    ("af-south", Rir::Afrinic, -26.20, 28.05),
    ("us-west", Rir::Arin, 45.84, -119.70),
    ("eu-central", Rir::RipeNcc, 50.11, 8.68),
    ("ap-northeast", Rir::Apnic, 35.68, 139.69),
    ("ap-south", Rir::Apnic, 19.08, 72.88),
    ("ap-southeast-2", Rir::Apnic, -33.87, 151.21),
    ("us-central", Rir::Arin, 32.78, -96.80),
    ("eu-north", Rir::RipeNcc, 59.33, 18.07),
    ("eu-south", Rir::RipeNcc, 40.42, -3.70),
    ("af-west", Rir::Afrinic, 6.52, 3.38),
    ("sa-west", Rir::Lacnic, -33.45, -70.67),
    ("ca-east", Rir::Arin, 45.50, -73.57),
];

#[derive(Parser, Debug)]
#[command(
    name = "load",
    about = "Coordinator load benchmark over loopback HTTP perspectives"
)]
struct Args {
    /// Perspectives, all in every cohort (at most 16).
    #[arg(long, default_value_t = 6)]
    perspectives: usize,
    /// Checks in flight at once.
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Checks measured (after a warm-up of `concurrency` checks).
    #[arg(long, default_value_t = 10_000)]
    checks: usize,
    /// Every perspective's answer delay in ms (the lower bound when uniform).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// `fixed` or `uniform` (between --delay-ms and --delay-max-ms).
    #[arg(long, default_value = "fixed", value_parser = ["fixed", "uniform"])]
    delay_dist: String,
    /// Upper bound of a uniform delay, in ms.
    #[arg(long, default_value_t = 0)]
    delay_max_ms: u64,
    /// How many perspectives are slow (the first ones of the list).
    #[arg(long, default_value_t = 0)]
    slow: usize,
    /// The slow perspectives' fixed delay, in ms.
    #[arg(long, default_value_t = 10_000)]
    slow_delay_ms: u64,
    /// Worker threads of the coordinator's runtime (default: CPUs).
    #[arg(long)]
    coordinator_threads: Option<usize>,
    /// Worker threads of the perspectives' runtime (default: CPUs).
    #[arg(long)]
    perspective_threads: Option<usize>,
    /// Quorum policy: `br` decides at 4 of 6 and cancels the rest; `strict`
    /// waits for every perspective (no cancelled calls).
    #[arg(long, default_value = "br", value_parser = ["br", "strict"])]
    quorum: String,
    /// Stop starting checks after this many seconds (the run stays bounded).
    #[arg(long, default_value_t = 240)]
    time_limit_s: u64,
    /// Do not format the per-decision log line (production logs every
    /// decision; by default it is formatted and written to a sink).
    #[arg(long)]
    no_log: bool,
    /// A name for this run in the output.
    #[arg(long, default_value = "load")]
    label: String,
    /// `http`: loopback HTTP/1.1 to perspective servers, as in production
    /// (minus TLS); `http2`: the same over HTTP/2 (prior knowledge, no TLS);
    /// `in-process`: the same perspective work called directly
    /// on the perspectives' runtime (no sockets), for a line like-for-like
    /// with Open MPIC's in-process perspectives.
    #[arg(long, default_value = "http", value_parser = ["http", "http2", "in-process"])]
    transport: String,
    /// Store every decision as `mpic serve` does: `sqlite` (a file in a
    /// temporary directory) or `postgres` (at --evidence-url); `none` keeps
    /// nothing.
    #[arg(long, default_value = "none", value_parser = ["none", "sqlite", "postgres"])]
    evidence: String,
    /// The PostgreSQL URL for `--evidence postgres`.
    #[arg(long, value_name = "URL")]
    evidence_url: Option<String>,
    /// `keep`: calls still running at a decision run on and their results
    /// are kept (as `mpic serve` does); `drop`: they are dropped.
    #[arg(long, default_value = "keep", value_parser = ["keep", "drop"])]
    late_results: String,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// When each report reached the fan-out, keyed by its signature.
type Arrivals = Arc<Mutex<HashMap<Vec<u8>, Arrival>>>;

/// When a report reached the fan-out: wall clock, and the CPU clock of the
/// thread it arrived on (the rest of the decision runs in the same poll, so
/// on the same thread).
#[derive(Debug, Clone, Copy)]
struct Arrival {
    at: Instant,
    thread: std::thread::ThreadId,
    thread_cpu: Option<Duration>,
}

/// CPU time this thread has used: unlike the wall clock, it does not run
/// while the thread is preempted, so it shows the coordinator's own work even
/// on a machine shared with other jobs.
fn thread_cpu() -> Option<Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .ok()
        .map(Duration::from)
}

/// The perspectives called directly: each call runs on the perspectives'
/// runtime (so its CPU is not the coordinator's), with the envelope as the
/// JSON an HTTP body would carry.
struct InProcessTransport {
    perspectives: HashMap<String, Arc<perspective_server::PerspectiveState>>,
    runtime: tokio::runtime::Handle,
}

impl PerspectiveTransport for InProcessTransport {
    async fn call(
        &self,
        perspective: &PerspectiveConfig,
        envelope: RequestEnvelope,
        _deadline: tokio::time::Instant,
    ) -> Result<SignedReport, CallError> {
        let state = self
            .perspectives
            .get(&perspective.id)
            .cloned()
            .ok_or_else(|| CallError::Connect(format!("no perspective {}", perspective.id)))?;
        let body = serde_json::to_vec(&envelope).map_err(|e| CallError::Prepare(e.to_string()))?;
        let answer = self
            .runtime
            .spawn(async move { perspective_server::answer(&state, &body).await });
        match answer.await {
            Ok(Ok(report)) => Ok(report),
            Ok(Err((status, body))) => Err(CallError::HttpStatus {
                status: status.as_u16(),
                body,
            }),
            Err(e) => Err(CallError::Transport(e.to_string())),
        }
    }
}

/// Either transport, noting when each report arrived.
struct TimedTransport<T> {
    inner: T,
    arrivals: Arrivals,
}

impl<T: PerspectiveTransport> PerspectiveTransport for TimedTransport<T> {
    async fn call(
        &self,
        perspective: &PerspectiveConfig,
        envelope: RequestEnvelope,
        deadline: tokio::time::Instant,
    ) -> Result<SignedReport, CallError> {
        let answer = self.inner.call(perspective, envelope, deadline).await;
        if let Ok(report) = &answer
            && let Ok(mut arrivals) = self.arrivals.lock()
        {
            arrivals.insert(
                report.signature.clone(),
                Arrival {
                    at: Instant::now(),
                    thread: std::thread::current().id(),
                    thread_cpu: thread_cpu(),
                },
            );
        }
        answer
    }
}

/// One decision's timings.
struct Sample {
    latency: Duration,
    /// Deciding answer's arrival to `check` returning.
    overhead: Option<Duration>,
    /// The same span in CPU time of the thread that ran it.
    overhead_cpu: Option<Duration>,
    /// Deciding report leaving its perspective to arriving at the fan-out.
    response_path: Option<Duration>,
    valid: bool,
}

fn perspective_key(i: usize) -> SigningKey {
    let mut seed = [0x50; 32];
    seed[0] = u8::try_from(i + 1).unwrap();
    SigningKey::from_bytes(&seed)
}

fn coordinator_key() -> SigningKey {
    SigningKey::from_bytes(&[0xC0; 32])
}

fn delay_for(args: &Args, i: usize) -> Delay {
    if i < args.slow {
        return Delay::Fixed(Duration::from_millis(args.slow_delay_ms));
    }
    let low = Duration::from_millis(args.delay_ms);
    match args.delay_dist.as_str() {
        "uniform" => Delay::Uniform(
            low,
            Duration::from_millis(args.delay_max_ms.max(args.delay_ms)),
        ),
        _ => Delay::Fixed(low),
    }
}

fn config(perspectives: Vec<PerspectiveConfig>, policy: Policy, call_timeout: Duration) -> Config {
    let count = perspectives.len();
    let defaults = Defaults {
        perspective_count: count,
        min_perspective_count: count,
        policy,
        call_timeout,
        deadline: call_timeout * 2,
        max_attempts: 3,
        max_attempts_cap: 3,
        caa_issuer_domains: vec![DomainName::parse("ca.example").unwrap()],
        max_report_age: Duration::from_secs(120),
        max_future_skew: Duration::from_secs(5),
    };
    Config::from_parts(
        coordinator_key(),
        Zeroizing::new(b"load-benchmark cohort secret, 32+ bytes".to_vec()),
        defaults,
        perspectives,
    )
}

/// The perspectives' configurations and states, each served on `runtime`
/// when `serve` (else called in process).
type Started = (
    Vec<PerspectiveConfig>,
    HashMap<String, Arc<perspective_server::PerspectiveState>>,
);

/// Starts the perspectives on `runtime`; returns their configurations.
fn start_perspectives(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    sent: &SentTimes,
    serve: bool,
) -> std::io::Result<Started> {
    let coordinator = coordinator_key().verifying_key();
    let mut configs = Vec::new();
    let mut states = HashMap::new();
    for (i, &(id, rir, latitude, longitude)) in SITES.iter().take(args.perspectives).enumerate() {
        let key = perspective_key(i);
        let coordinates = Coordinates::new(latitude, longitude).unwrap();
        let identity = Identity {
            perspective_id: id.to_owned(),
            rir,
            location: Location {
                region: id.to_owned(),
                coordinates: Some(coordinates),
            },
        };
        let state = perspective_server::state(
            identity,
            key.clone(),
            coordinator,
            delay_for(args, i),
            0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1),
            Arc::clone(sent),
        )?;
        let url = if serve {
            let served = runtime.block_on(perspective_server::start(Arc::clone(&state)))?;
            Url::parse(&format!("http://{}/", served.addr)).unwrap()
        } else {
            Url::parse(&format!("http://{id}.in-process.invalid/")).unwrap()
        };
        states.insert(id.to_owned(), state);
        configs.push(PerspectiveConfig {
            id: id.to_owned(),
            check_url: url.join("v1/check").unwrap(),
            url,
            rir,
            region: id.to_owned(),
            location: coordinates,
            public_key: key.verifying_key(),
        });
    }
    Ok((configs, states))
}

/// The deciding answer's arrival and departure, from the decision's reports.
fn deciding_times(
    decision: &Decision,
    arrivals: &Arrivals,
    sent: &SentTimes,
) -> (Option<Arrival>, Option<Instant>) {
    let Some(attempt) = decision.final_attempt() else {
        return (None, None);
    };
    let mut arrivals = arrivals.lock().unwrap();
    let mut deciding: Option<(Arrival, &[u8])> = None;
    for result in &attempt.results {
        let Some(report) = &result.report else {
            continue;
        };
        if let Some(arrival) = arrivals.remove(&report.signature)
            && deciding.is_none_or(|(latest, _)| arrival.at > latest.at)
        {
            deciding = Some((arrival, &report.signature));
        }
    }
    // Earlier attempts' answers are never looked at again.
    for earlier in decision.previous_attempts() {
        for result in &earlier.results {
            if let Some(report) = &result.report {
                arrivals.remove(&report.signature);
            }
        }
    }
    drop(arrivals);
    let Some((arrived, signature)) = deciding else {
        return (None, None);
    };
    let left = sent.lock().unwrap().remove(signature);
    (Some(arrived), left)
}

/// What decides each check, and what stores it (as `mpic serve` does) when
/// the run keeps evidence.
struct Decider<T> {
    coordinator: Arc<Coordinator<TimedTransport<T>>>,
    recorder: Option<Recorder>,
}

impl<T: PerspectiveTransport + 'static> Decider<T> {
    /// The coordinator over `transport`; `keep_late`: whether calls still
    /// running at a decision run on ([`Coordinator::with_late_results`]).
    fn new(
        config: Config,
        transport: TimedTransport<T>,
        keep_late: bool,
        recorder: Option<Recorder>,
    ) -> Result<Self, String> {
        let coordinator = Coordinator::new(config, transport)
            .map_err(|e| e.to_string())?
            .with_late_results(keep_late);
        Ok(Self {
            coordinator: Arc::new(coordinator),
            recorder,
        })
    }
}

impl<T> Clone for Decider<T> {
    fn clone(&self) -> Self {
        Self {
            coordinator: Arc::clone(&self.coordinator),
            recorder: self.recorder.clone(),
        }
    }
}

async fn drive<T: PerspectiveTransport + 'static>(
    decider: Decider<T>,
    arrivals: Arrivals,
    sent: SentTimes,
    concurrency: usize,
    checks: usize,
    stop_at: Instant,
    first_check: usize,
) -> Vec<Sample> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let Decider {
            coordinator,
            recorder,
        } = decider.clone();
        let sent = Arc::clone(&sent);
        let arrivals = Arc::clone(&arrivals);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= checks || Instant::now() >= stop_at {
                    break;
                }
                let json = format!(
                    r#"{{"check_type":"caa","domain_or_ip_target":"www{}.example.com"}}"#,
                    first_check + n
                );
                let request = CheckRequest::from_json(json.as_bytes()).unwrap();
                let started = Instant::now();
                let decision = coordinator.check(&request).await.unwrap();
                if let Some(recorder) = &recorder {
                    let context = RecordContext {
                        decided_at_ms: mpic_coordinator::now_ms(),
                        client: Some("bench".into()),
                        request: json,
                    };
                    recorder.record(&decision, context).await.unwrap();
                }
                let done = Instant::now();
                let done_cpu = thread_cpu();
                let done_thread = std::thread::current().id();
                let (arrived, left) = deciding_times(&decision, &arrivals, &sent);
                samples.push(Sample {
                    latency: done - started,
                    overhead: arrived.map(|a| done.saturating_duration_since(a.at)),
                    overhead_cpu: arrived
                        .filter(|a| a.thread == done_thread)
                        .and_then(|a| Some(done_cpu?.saturating_sub(a.thread_cpu?))),
                    response_path: arrived
                        .zip(left)
                        .map(|(a, l)| a.at.saturating_duration_since(l)),
                    valid: decision.is_valid(),
                });
            }
            samples
        }));
    }
    let mut all = Vec::with_capacity(checks);
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all
}

fn run(args: &Args) -> Result<(), String> {
    if args.perspectives < 2 || args.perspectives > SITES.len() {
        return Err(format!("--perspectives must be 2..={}", SITES.len()));
    }
    if args.slow > args.perspectives {
        return Err("--slow exceeds --perspectives".into());
    }
    if args.concurrency == 0 || args.checks == 0 {
        return Err("--concurrency and --checks must be positive".into());
    }
    // Client and server end of every connection, plus the answers to
    // cancelled slow calls that stay open until their delay ends.
    let slow_open = if args.slow_delay_ms >= 1000 {
        (args.checks + args.concurrency) * args.slow
    } else {
        0
    };
    let sockets = 2 * args.concurrency * args.perspectives + slow_open + 256;
    if let Some(limit) = process_stats::open_files_limit()
        && (sockets as u64) > limit
    {
        return Err(format!(
            "this run may need ~{sockets} open files but `ulimit -n` is {limit}: raise it or lower --concurrency/--checks"
        ));
    }
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);

    let perspective_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.perspective_threads.unwrap_or(cpus))
        .thread_name("perspectives")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let sent: SentTimes = Arc::new(Mutex::new(HashMap::new()));
    let in_process = args.transport == "in-process";
    let (perspectives, states) = start_perspectives(args, &perspective_runtime, &sent, !in_process)
        .map_err(|e| e.to_string())?;

    if !args.no_log {
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_env_filter("info")
            .init();
    }
    let coordinator_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.coordinator_threads.unwrap_or(cpus))
        .thread_name("coordinator")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let call_timeout = Duration::from_millis(
        args.slow_delay_ms.max(args.delay_max_ms).max(args.delay_ms) + 20_000,
    );
    let policy = if args.quorum == "strict" {
        Policy::Strict
    } else {
        Policy::Br
    };
    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let config = config(perspectives, policy, call_timeout);
    let evidence_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let location = match args.evidence.as_str() {
        "sqlite" => Some(StoreLocation::Sqlite(
            evidence_dir.path().join("evidence.sqlite3"),
        )),
        "postgres" => Some(StoreLocation::Postgres(
            args.evidence_url
                .clone()
                .ok_or("--evidence postgres needs --evidence-url")?,
        )),
        _ => None,
    };
    let recorder = match location {
        Some(location) => Some(coordinator_runtime.block_on(async {
            let store = EvidenceStore::open(&location)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(Recorder::start(
                store,
                format!("bench-{}", std::process::id()),
                config.signing_key.clone(),
                config.digest.clone(),
                &config.perspectives,
            ))
        })?),
        None => None,
    };
    let keep_late = args.late_results == "keep";
    let perspective_handle = perspective_runtime.handle().clone();
    let runtimes = Runtimes {
        coordinator: coordinator_runtime,
        perspectives: perspective_runtime,
    };
    if in_process {
        let transport = TimedTransport {
            inner: InProcessTransport {
                perspectives: states,
                runtime: perspective_handle,
            },
            arrivals: Arc::clone(&arrivals),
        };
        let decider = Decider::new(config, transport, keep_late, recorder)?;
        measure(args, runtimes, decider, arrivals, sent)
    } else {
        let inner = if args.transport == "http2" {
            HttpTransport::http2_prior_knowledge()
        } else {
            HttpTransport::new()
        };
        let transport = TimedTransport {
            inner: inner.map_err(|e| e.to_string())?,
            arrivals: Arc::clone(&arrivals),
        };
        let decider = Decider::new(config, transport, keep_late, recorder)?;
        measure(args, runtimes, decider, arrivals, sent)
    }
}

/// The coordinator's runtime and the perspectives' (each with its own
/// threads, so that their CPU is measured apart).
struct Runtimes {
    coordinator: tokio::runtime::Runtime,
    perspectives: tokio::runtime::Runtime,
}

/// Runs the warm-up and the measured checks through `coordinator`, and
/// prints the results.
fn measure<T: PerspectiveTransport + 'static>(
    args: &Args,
    runtimes: Runtimes,
    decider: Decider<T>,
    arrivals: Arrivals,
    sent: SentTimes,
) -> Result<(), String> {
    println!("machine: {}", process_stats::machine_summary());
    println!(
        "run {:?}: {} perspectives ({} slow at {} ms), quorum {}, delay {} {}..{} ms, concurrency {}, {} checks, logging {}, evidence {}, late results {}",
        args.label,
        args.perspectives,
        args.slow,
        args.slow_delay_ms,
        args.quorum,
        args.delay_dist,
        args.delay_ms,
        args.delay_max_ms.max(args.delay_ms),
        args.concurrency,
        args.checks,
        if args.no_log {
            "off"
        } else {
            "formatted to a sink"
        },
        args.evidence,
        args.late_results,
    );

    let stop_at = Instant::now() + Duration::from_secs(args.time_limit_s);
    // Warm-up: open the connections, fault in the code; not measured.
    let warmup = runtimes.coordinator.block_on(drive(
        decider.clone(),
        Arc::clone(&arrivals),
        Arc::clone(&sent),
        args.concurrency,
        args.concurrency,
        stop_at,
        0,
    ));
    if warmup.iter().any(|s| !s.valid) {
        return Err("a warm-up check was not valid: the setup is broken".into());
    }

    let cpu_before = process_stats::cpu_by_thread_name();
    let process_before = process_stats::process_cpu();
    let started = Instant::now();
    let mut samples = runtimes.coordinator.block_on(drive(
        decider.clone(),
        Arc::clone(&arrivals),
        Arc::clone(&sent),
        args.concurrency,
        args.checks,
        stop_at,
        args.concurrency,
    ));
    let wall = started.elapsed();
    let cpu = process_stats::cpu_delta(&cpu_before, &process_stats::cpu_by_thread_name());
    let process_cpu = process_stats::process_cpu().saturating_sub(process_before);
    let peak_kib = process_stats::peak_rss_kib().unwrap_or(0);

    // Stop the perspectives (and their pending slow answers) and the client.
    drop(decider);
    runtimes
        .coordinator
        .shutdown_timeout(Duration::from_secs(1));
    runtimes
        .perspectives
        .shutdown_timeout(Duration::from_secs(1));

    report(args, &mut samples, wall, &cpu, process_cpu, peak_kib);
    Ok(())
}

fn report(
    args: &Args,
    samples: &mut [Sample],
    wall: Duration,
    cpu: &std::collections::BTreeMap<String, Duration>,
    process_cpu: Duration,
    peak_kib: u64,
) {
    let done = samples.len();
    let invalid = samples.iter().filter(|s| !s.valid).count();
    let mut latency: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    let mut overhead: Vec<Duration> = samples.iter().filter_map(|s| s.overhead).collect();
    let mut overhead_cpu: Vec<Duration> = samples.iter().filter_map(|s| s.overhead_cpu).collect();
    let mut path: Vec<Duration> = samples.iter().filter_map(|s| s.response_path).collect();
    let latency = Percentiles::of(&mut latency);
    let overhead = Percentiles::of(&mut overhead);
    let overhead_cpu = Percentiles::of(&mut overhead_cpu);
    let path = Percentiles::of(&mut path);
    let rate = done as f64 / wall.as_secs_f64();
    let group = |prefix: &str| -> Duration {
        cpu.iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, d)| *d)
            .sum()
    };
    let coordinator_cpu = group("coordinator");
    let perspective_cpu = group("perspectives");
    let per_1000 = |d: Duration| d.as_secs_f64() * 1000.0 / done.max(1) as f64;

    if done < args.checks {
        println!("time limit reached: {done} of {} checks done", args.checks);
    }
    println!(
        "checks: {done} in {:.2} s, {invalid} not valid",
        wall.as_secs_f64()
    );
    println!("decisions per second: {rate:.0}");
    let row = |name: &str, p: &Percentiles| {
        println!(
            "{name:<34} n={:<7} p50 {:>9}  p90 {:>9}  p99 {:>9}  max {:>9}  mean {:>9}",
            p.count,
            human(p.p50),
            human(p.p90),
            human(p.p99),
            human(p.max),
            human(p.mean)
        );
    };
    row("decision latency", &latency);
    row("coordinator overhead (wall clock)", &overhead);
    row("coordinator overhead (thread CPU)", &overhead_cpu);
    row("deciding response: server->fanout", &path);
    println!(
        "CPU seconds per 1000 checks: {:.3} total ({:.3} coordinator runtime, {:.3} in-process perspectives, {:.3} other)",
        per_1000(process_cpu),
        per_1000(coordinator_cpu),
        per_1000(perspective_cpu),
        per_1000(process_cpu.saturating_sub(coordinator_cpu + perspective_cpu)),
    );
    if !coordinator_cpu.is_zero() {
        println!(
            "coordinator-only capacity: {:.0} decisions per CPU-second",
            done as f64 / coordinator_cpu.as_secs_f64()
        );
    }
    println!(
        "peak memory (VmHWM, whole process incl. perspectives): {:.1} MiB",
        peak_kib as f64 / 1024.0
    );
    println!(
        "| {} | {} | {} | {} | {rate:.0} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.0} |",
        args.label,
        args.perspectives,
        args.concurrency,
        done,
        human(latency.p50),
        human(latency.p99),
        human(latency.max),
        human(overhead.p99),
        human(overhead_cpu.p99),
        per_1000(process_cpu),
        per_1000(coordinator_cpu),
        peak_kib as f64 / 1024.0,
    );
    // For scripts/bench peer, which sets ours beside Open MPIC's.
    println!(
        "result-json: {}",
        serde_json::json!({
            "run": args.label,
            "checks": done,
            "concurrency": args.concurrency,
            "valid": done - invalid,
            "decisions_per_s": (rate * 10.0).round() / 10.0,
            "cpu_ms_per_decision": (per_1000(coordinator_cpu) * 1000.0).round() / 1000.0,
            "p50_ms": latency.p50.as_secs_f64() * 1000.0,
            "p99_ms": latency.p99.as_secs_f64() * 1000.0,
            "evidence": args.evidence,
            "late_results": args.late_results,
        })
    );
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}
