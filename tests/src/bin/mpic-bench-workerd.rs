//! `scripts/bench`'s workerd part: the real worker under workerd (six
//! `wrangler dev` perspectives on 127.0.0.1, each with its own view of a
//! loopback DoH resolver), driven through the real `Coordinator` over HTTP.
//!
//! 1. End-to-end decision latency of CAA checks (`--checks` at
//!    `--concurrency`).
//! 2. Worker CPU per CAA check: CPU time (utime + stime from
//!    `/proc/<pid>/stat`) of the workerd processes of ONE perspective's
//!    wrangler process group, before and after `--cpu-checks` sequential
//!    checks sent straight to it, minus what they burn idle over as long.
//!
//! 3. With `--bare-checks N`, first the same worker under `workerd serve`
//!    alone ([`mpic_tests::bare_workerd`]: no wrangler, no node proxy): the
//!    cold start (spawn to first answer, and to the first answered check),
//!    then workerd CPU per request for `GET /v1/identity`, a refused call,
//!    a CAA check, an http-01 check and an acme-tls-alpn-01 check (over
//!    Workers sockets and mpic-core's TLS), and for the runtime's floor (a
//!    JS worker answering `ok`). `--checks 0` then skips the wrangler parts.
//!
//! Needs `scripts/build-worker` first. Bounded: fixed counts, one start
//! deadline per perspective, everything stopped on exit.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../coordinator/benches/load/process_stats.rs"]
mod process_stats;

use mpic_core::loopback::LocalPorts;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mpic_coordinator::Environment;
use mpic_coordinator::{Config, Coordinator, HttpTransport};
use mpic_core::check::CheckRequest;
use mpic_core::perspective::CheckCall;
use mpic_core::report::Verdict;
use mpic_tests::bare_workerd::{BareWorkerd, Script};
use mpic_tests::dns_fixture::{DnsWorld, DohServer};
use mpic_tests::http_fixture::{HttpServer, acme_challenge_path};
use mpic_tests::keys;
use mpic_tests::perspective_client;
use mpic_tests::tls_fixture::{TlsAlpnCertificate, TlsBehaviour, TlsServer};
use mpic_tests::victim;
use mpic_tests::world::{SIX_SITES, World, perspective_spec};

use process_stats::{Percentiles, human};

/// `www.victim.example` has no CAA, `victim.example` has ours: a typical
/// check climbs one label (two DoH lookups).
const ZONES: &str = r#"
$TTL 60
$ORIGIN example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 127.0.0.1
victim A 127.0.0.1
www.victim A 127.0.0.1
victim CAA 0 issue "ca.example"
"#;
const TARGET: &str = "www.victim.example";

/// Four empty names above which `victim.example` holds the CAA RRset.
const DEEP_TARGET: &str = "a.b.c.www.victim.example";
/// Injected per DoH answer in the climb measurement (a typical resolver
/// round trip from a Worker).
const CLIMB_DELAY: Duration = Duration::from_millis(20);

struct Args {
    checks: usize,
    concurrency: usize,
    cpu_checks: usize,
    climb_checks: usize,
    bare_checks: usize,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Args {
            checks: 100,
            concurrency: 1,
            cpu_checks: 200,
            climb_checks: 20,
            bare_checks: 0,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = |name: &str| -> Result<usize, String> {
                it.next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("{name} needs a number"))
            };
            match flag.as_str() {
                "--checks" => args.checks = value("--checks")?,
                "--concurrency" => args.concurrency = value("--concurrency")?.max(1),
                "--cpu-checks" => args.cpu_checks = value("--cpu-checks")?,
                "--climb-checks" => args.climb_checks = value("--climb-checks")?,
                "--bare-checks" => args.bare_checks = value("--bare-checks")?,
                "-h" | "--help" => {
                    return Err(
                        "usage: mpic-bench-workerd [--checks 100] [--concurrency 1] [--cpu-checks 200] [--climb-checks 20] [--bare-checks 0]"
                            .into(),
                    );
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if args.checks > 10_000
            || args.cpu_checks > 10_000
            || args.climb_checks > 10_000
            || args.bare_checks > 10_000
        {
            return Err("at most 10000 checks per run".into());
        }
        Ok(args)
    }
}

fn coordinator_toml(world: &World) -> String {
    let mut toml = format!(
        r#"[coordinator]
signing_key = "{}"
cohort_secret = "bench-cohort-secret-0123456789abcdef0123456789"

[defaults]
perspective_count = {}
quorum = "br"
call_timeout_ms = 20000
deadline_ms = 45000
max_attempts = 1
caa_issuer_domains = ["ca.example"]
max_report_age_ms = 120000
max_future_skew_ms = 5000
"#,
        keys::seed_text(&keys::coordinator()),
        world.perspectives.len(),
    );
    for p in &world.perspectives {
        toml.push_str(&format!(
            "\n[[perspective]]\nid = \"{}\"\nurl = \"{}\"\nrir = \"{}\"\nregion = \"{}\"\nlatitude = {}\nlongitude = {}\npublic_key = \"{}\"\n",
            p.site.id,
            p.url(),
            p.site.rir.as_str(),
            p.site.region,
            p.site.latitude,
            p.site.longitude,
            keys::public_text(&p.key),
        ));
    }
    toml
}

fn coordinator(world: &World) -> Result<Coordinator<HttpTransport>, String> {
    let env = Environment {
        base_dir: std::env::temp_dir(),
        var: &|_| None,
        now_ms: perspective_client::now_ms(),
    };
    let config = Config::from_toml(&coordinator_toml(world), &env).map_err(|e| e.to_string())?;
    let transport = HttpTransport::new().map_err(|e| e.to_string())?;
    Coordinator::new(config, transport).map_err(|e| e.to_string())
}

/// Runs `checks` decisions at `concurrency`; returns each one's latency.
async fn decisions(
    coordinator: &Arc<Coordinator<HttpTransport>>,
    checks: usize,
    concurrency: usize,
) -> Result<Vec<Duration>, String> {
    let spec = CheckRequest::from_json(
        format!(r#"{{"check_type":"caa","domain_or_ip_target":"{TARGET}"}}"#).as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let coordinator = Arc::clone(coordinator);
        let spec = spec.clone();
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < checks {
                let started = Instant::now();
                let decision = coordinator
                    .check(&spec)
                    .await
                    .map_err(|e| format!("request refused: {e}"))?;
                let latency = started.elapsed();
                if !decision.is_valid() {
                    return Err(format!("check not valid: {:?}", decision.reasons()));
                }
                latencies.push(latency);
            }
            Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.map_err(|e| e.to_string())??);
    }
    Ok(all)
}

/// CPU time of the processes in process group `group` named `workerd`, and
/// of the others (wrangler's node processes).
fn group_cpu(group: u32) -> (Duration, Duration) {
    let mut workerd = Duration::ZERO;
    let mut others = Duration::ZERO;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (workerd, others);
    };
    for entry in entries.flatten() {
        let stat = entry.path().join("stat");
        let Ok(text) = std::fs::read_to_string(&stat) else {
            continue;
        };
        // pgrp is the third field after `(comm)`.
        let pgrp = text
            .rfind(')')
            .and_then(|close| text.get(close + 2..))
            .and_then(|rest| rest.split_whitespace().nth(2))
            .and_then(|p| p.parse::<u32>().ok());
        if pgrp != Some(group) {
            continue;
        }
        if let Some((name, cpu)) = process_stats::task_cpu(&stat) {
            if name == "workerd" {
                workerd += cpu;
            } else {
                others += cpu;
            }
        }
    }
    (workerd, others)
}

fn caa_call(perspective_id: &str) -> CheckCall {
    caa_call_for(perspective_id, TARGET)
}

fn caa_call_for(perspective_id: &str, target: &str) -> CheckCall {
    serde_json::from_value(serde_json::json!({
        "perspective_ids": [perspective_id],
        "attempt": 1,
        "check": {
            "check_type": "caa",
            "domain_or_ip_target": target,
            "caa_check_parameters": {"caa_domains": ["ca.example"]},
        },
    }))
    .unwrap()
}

async fn run(args: &Args) -> Result<(), String> {
    println!("machine: {}", process_stats::machine_summary());
    if args.bare_checks > 0 {
        bare(args.bare_checks).await?;
    }
    if args.checks == 0 {
        return Ok(());
    }
    println!("starting 6 perspectives under workerd (wrangler dev) ...");
    let started = Instant::now();
    let world = World::start(ZONES, &SIX_SITES)
        .await
        .map_err(|e| e.to_string())?;
    println!("started in {:.1} s", started.elapsed().as_secs_f64());
    let coordinator = Arc::new(coordinator(&world)?);

    // Warm every isolate (the first request compiles the wasm).
    decisions(&coordinator, 3, 1).await?;

    let started = Instant::now();
    let mut latencies = decisions(&coordinator, args.checks, args.concurrency).await?;
    let wall = started.elapsed();
    let p = Percentiles::of(&mut latencies);
    println!(
        "end-to-end CAA decisions through workerd: {} checks at concurrency {} in {:.2} s ({:.1}/s)",
        p.count,
        args.concurrency,
        wall.as_secs_f64(),
        p.count as f64 / wall.as_secs_f64()
    );
    println!(
        "decision latency: p50 {}  p90 {}  p99 {}  max {}  mean {}",
        human(p.p50),
        human(p.p90),
        human(p.p99),
        human(p.max),
        human(p.mean)
    );
    println!(
        "| workerd e2e | 6 | {} | {} | {:.1} | {} | {} | {} |",
        args.concurrency,
        p.count,
        p.count as f64 / wall.as_secs_f64(),
        human(p.p50),
        human(p.p99),
        human(p.max)
    );

    if args.climb_checks > 0 {
        climb(&world, args.climb_checks).await?;
    }
    if args.cpu_checks == 0 {
        return Ok(());
    }
    // Worker CPU per request, at one perspective.
    let one = &world.perspectives[0];
    let group = one.process.process_group();
    let call = caa_call(one.site.id);
    let key = one.key.verifying_key();
    for _ in 0..3 {
        perspective_client::call(&one.url(), &key, &call)
            .await
            .map_err(|e| e.to_string())?;
    }
    let idle = idle_rates(group).await;
    println!(
        "idle: workerd {:.1} ms/s, wrangler's node {:.1} ms/s",
        idle.0 * 1000.0,
        idle.1 * 1000.0
    );
    println!(
        "| request | n | workerd CPU per request | (before subtracting idle) | wrangler node proxy CPU | wall per request |"
    );
    let n = args.cpu_checks;
    identity_and_refusal(&one.url(), group, n, idle).await?;
    cpu_per_request(
        "POST /v1/check, CAA (2 DoH lookups)",
        group,
        n,
        idle,
        || async {
            let verified = perspective_client::call(&one.url(), &key, &call)
                .await
                .map_err(|e| e.to_string())?;
            if verified.body.verdict != Verdict::Pass {
                return Err(format!("check did not pass: {}", verified.body.reason));
            }
            Ok(())
        },
    )
    .await?;
    Ok(())
}

/// The worker alone under `workerd serve`: cold start, and workerd CPU per
/// request with the runtime's floor beside it.
async fn bare(n: usize) -> Result<(), String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let dns = DohServer::start(DnsWorld::from_zone_text(ZONES).map_err(|e| text(&e))?)
        .await
        .map_err(|e| text(&e))?;
    let web = HttpServer::start().await.map_err(|e| text(&e))?;
    web.serve_body(
        &acme_challenge_path(victim::TOKEN),
        victim::KEY_AUTHORIZATION,
    )
    .map_err(|e| text(&e))?;
    let tls = TlsServer::start(TlsBehaviour::acme_tls_alpn(
        TlsAlpnCertificate::valid(victim::DOMAIN, victim::KEY_AUTHORIZATION)
            .map_err(|e| text(&e))?,
    ))
    .await
    .map_err(|e| text(&e))?;
    let site = &SIX_SITES[0];
    let key = keys::perspective(1);
    let spec = perspective_spec(
        site,
        &key,
        &dns.url_for(site.id),
        LocalPorts {
            http: web.port(),
            https: Some(tls.port()),
        },
    );
    let verifying = key.verifying_key();

    let spawned = Instant::now();
    let workerd = BareWorkerd::start(Script::Mpic, &spec.vars)
        .await
        .map_err(|e| text(&e))?;
    let caa = caa_call(site.id);
    let first = perspective_client::call(&workerd.base_url(), &verifying, &caa)
        .await
        .map_err(|e| text(&e))?;
    let first_check = spawned.elapsed();
    if first.body.verdict != Verdict::Pass {
        return Err(format!(
            "bare CAA check did not pass: {}",
            first.body.reason
        ));
    }
    println!(
        "bare workerd cold start: first answer {} after spawn, first CAA check answered {} after spawn (wasm {} bytes)",
        human(workerd.first_answer),
        human(first_check),
        std::fs::metadata(mpic_tests::repo_root().join("worker/build/index_bg.wasm"))
            .map_or(0, |m| m.len()),
    );
    let http01: CheckCall = serde_json::from_value(serde_json::json!({
        "perspective_ids": [site.id],
        "attempt": 1,
        "check": {
            "check_type": "dcv",
            "domain_or_ip_target": victim::DOMAIN,
            "dcv_check_parameters": {"validation_method": "acme-http-01", "token": victim::TOKEN,
                                     "key_authorization": victim::KEY_AUTHORIZATION},
        },
    }))
    .map_err(|e| text(&e))?;
    let tls_alpn01: CheckCall = serde_json::from_value(serde_json::json!({
        "perspective_ids": [site.id],
        "attempt": 1,
        "check": victim::tls_alpn01_check(),
    }))
    .map_err(|e| text(&e))?;
    for call in [&caa, &http01, &tls_alpn01, &caa] {
        let verified = perspective_client::call(&workerd.base_url(), &verifying, call)
            .await
            .map_err(|e| text(&e))?;
        if verified.body.verdict != Verdict::Pass {
            return Err(format!("bare check did not pass: {}", verified.body.reason));
        }
    }
    let group = workerd.process_group();
    let idle = idle_rates(group).await;
    println!("bare workerd idle: {:.2} ms/s", idle.0 * 1000.0);
    println!(
        "| request (bare workerd) | n | workerd CPU per request | (before subtracting idle) | (no proxy) | wall per request |"
    );
    let client = reqwest::Client::new();
    identity_and_refusal(&workerd.base_url(), group, n, idle).await?;
    // One DoH lookup fewer than the typical check: the difference is what
    // one subrequest costs, the rest is the check's own work.
    let caa_one_lookup = caa_call_for(site.id, victim::DOMAIN);
    for (what, call) in [
        ("POST /v1/check, CAA (1 DoH lookup)", &caa_one_lookup),
        ("POST /v1/check, CAA (2 DoH lookups)", &caa),
        (
            "POST /v1/check, acme-http-01 (A and AAAA lookups, 1 GET over a socket)",
            &http01,
        ),
        (
            "POST /v1/check, acme-tls-alpn-01 (A and AAAA lookups, 1 TLS handshake over a socket)",
            &tls_alpn01,
        ),
    ] {
        cpu_per_request(what, group, n, idle, || async {
            let verified = perspective_client::call(&workerd.base_url(), &verifying, call)
                .await
                .map_err(|e| text(&e))?;
            if verified.body.verdict != Verdict::Pass {
                return Err(format!("check did not pass: {}", verified.body.reason));
            }
            Ok(())
        })
        .await?;
    }
    drop(workerd);

    let floor = BareWorkerd::start(Script::Floor, &std::collections::BTreeMap::new())
        .await
        .map_err(|e| text(&e))?;
    let group = floor.process_group();
    let idle = idle_rates(group).await;
    let floor_url = floor.base_url();
    cpu_per_request(
        "runtime floor: a JS worker answering `ok`",
        group,
        n,
        idle,
        || get(&client, &floor_url),
    )
    .await?;
    drop(floor);
    tls.stop().await;
    web.stop().await;
    dns.stop().await;
    Ok(())
}

/// CPU per request of `GET /v1/identity` and of a refused call at
/// `base_url`.
async fn identity_and_refusal(
    base_url: &str,
    group: u32,
    n: usize,
    idle: (f64, f64),
) -> Result<(), String> {
    let client = reqwest::Client::new();
    let identity_url = format!("{base_url}/v1/identity");
    cpu_per_request("GET /v1/identity", group, n, idle, || {
        get(&client, &identity_url)
    })
    .await?;
    let check_url = format!("{base_url}/v1/check");
    cpu_per_request("POST /v1/check, unsigned (401)", group, n, idle, || {
        post_unsigned(&client, &check_url)
    })
    .await
}

/// One GET of `url`, its body read.
async fn get(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    response.bytes().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// One unsigned `POST` of `{}` to `url` (refused), its body read.
async fn post_unsigned(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = client
        .post(url)
        .body("{}")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    response.bytes().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// The CAA climb's cost in resolver round trips: every name of
/// [`DEEP_TARGET`]'s climb answers after [`CLIMB_DELAY`], and checks go
/// straight to one perspective, one at a time. A sequential climb waits
/// for each of the five names it reads in turn.
async fn climb(world: &World, checks: usize) -> Result<(), String> {
    let one = &world.perspectives[1];
    let names = [
        DEEP_TARGET,
        "b.c.www.victim.example",
        "c.www.victim.example",
        "www.victim.example",
        "victim.example",
        "example",
    ];
    for name in names {
        one.view
            .delay(name, CLIMB_DELAY)
            .map_err(|e| e.to_string())?;
    }
    let call = caa_call_for(one.site.id, DEEP_TARGET);
    let key = one.key.verifying_key();
    let mut latencies = Vec::with_capacity(checks);
    for _ in 0..checks {
        let started = Instant::now();
        let verified = perspective_client::call(&one.url(), &key, &call)
            .await
            .map_err(|e| e.to_string())?;
        latencies.push(started.elapsed());
        if verified.body.verdict != Verdict::Pass {
            return Err(format!(
                "climb check did not pass: {}",
                verified.body.reason
            ));
        }
    }
    one.view.clear_overrides();
    let p = Percentiles::of(&mut latencies);
    println!(
        "CAA climb of {DEEP_TARGET} (5 names read, {} ms per DoH answer): p50 {}  p99 {}  max {}; \
         a sequential climb waits at least 5 x {} ms",
        CLIMB_DELAY.as_millis(),
        human(p.p50),
        human(p.p99),
        human(p.max),
        CLIMB_DELAY.as_millis()
    );
    Ok(())
}

/// CPU per second of the group's workerd and other processes when idle.
async fn idle_rates(group: u32) -> (f64, f64) {
    let (workerd, others) = group_cpu(group);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (workerd_after, others_after) = group_cpu(group);
    let seconds = started.elapsed().as_secs_f64();
    (
        (workerd_after - workerd).as_secs_f64() / seconds,
        (others_after - others).as_secs_f64() / seconds,
    )
}

/// Sends `n` requests one after another and prints the CPU the perspective's
/// processes spent per request, less their idle rate over the same time.
async fn cpu_per_request<F, Fut>(
    what: &str,
    group: u32,
    n: usize,
    idle: (f64, f64),
    mut request: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let (before, others_before) = group_cpu(group);
    let started = Instant::now();
    for _ in 0..n {
        request().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (after, others_after) = group_cpu(group);
    let per = |cpu: Duration, idle_rate: f64| {
        ((cpu.as_secs_f64() - idle_rate * seconds).max(0.0)) * 1000.0 / n.max(1) as f64
    };
    println!(
        "| {what} | {n} | {:.3} ms | {:.3} ms | {:.3} ms | {:.2} ms |",
        per(after - before, idle.0),
        per(after - before, 0.0),
        per(others_after - others_before, idle.1),
        seconds * 1000.0 / n.max(1) as f64,
    );
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tokio::select! {
        result = run(&args) => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mpic-bench-workerd failed: {e}");
                ExitCode::FAILURE
            }
        },
        _ = tokio::signal::ctrl_c() => {
            // Dropping run()'s future stops every perspective's process group.
            eprintln!("\ninterrupted: stopping the perspectives");
            ExitCode::from(130)
        }
    }
}
