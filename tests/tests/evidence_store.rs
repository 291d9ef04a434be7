//! The evidence store against real databases and a real `mpic serve`: two
//! coordinators sharing one throwaway PostgreSQL server under load, the API
//! with PostgreSQL stopped and started again, and a coordinator killed with
//! SIGKILL in the middle of the load (SQLite). After each, `mpic evidence
//! verify --all --chain` (the binary, offline) must pass, and every decision
//! that was answered must be in the store.
//!
//! Perspectives are native loopback servers running the worker's own
//! `Responder` (five honest ones and one that never answers, so every check
//! has a call still running at its decision: a straggler).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpic_tests::coordinator_process::{CoordinatorProcess, new_api_key};
use mpic_tests::dns_fixture::{DnsWorld, DohServer};
use mpic_tests::keys;
use mpic_tests::mpic_binary;
use mpic_tests::native_perspective::{Behaviour, NativePerspective, PerspectiveSetup};
use mpic_tests::postgres_server::PostgresServer;
use mpic_tests::world::{SIX_SITES, Site};
use serde_json::{Value, json};

const ZONE: &str = r#"
$TTL 60
$ORIGIN evidence.example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 127.0.0.1
@ CAA 0 issue "ca.example"
"#;

/// The one that never answers: its call is still running at every decision.
const HUNG: &str = "af-south";
/// How long a call may run: the hung one's late result arrives after this.
const CALL_TIMEOUT_MS: u64 = 1_500;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

struct Fleet {
    _dns: DohServer,
    perspectives: Vec<NativePerspective>,
    configured: Vec<(Site, String, ed25519_dalek::VerifyingKey)>,
}

async fn fleet() -> Fleet {
    let dns = DohServer::start(DnsWorld::from_zone_text(ZONE).unwrap())
        .await
        .unwrap();
    let mut perspectives = Vec::new();
    let mut configured = Vec::new();
    for (i, site) in SIX_SITES.iter().enumerate() {
        let key = keys::perspective(u8::try_from(i + 1).unwrap());
        let behaviour = if site.id == HUNG {
            Behaviour::Hang
        } else {
            Behaviour::Honest
        };
        let setup = PerspectiveSetup::at_site(site, key.clone(), dns.url_for(site.id), behaviour);
        let perspective = NativePerspective::start(setup).await.unwrap();
        configured.push((site.clone(), perspective.base_url(), key.verifying_key()));
        perspectives.push(perspective);
    }
    Fleet {
        _dns: dns,
        perspectives,
        configured,
    }
}

/// A coordinator configuration over `fleet` with `evidence` as its
/// `[evidence]` section (empty: the default SQLite file).
fn config_toml(fleet: &Fleet, key_sha256: &str, evidence: &str) -> String {
    let mut toml = format!(
        r#"[coordinator]
signing_key = "{signing_key}"
cohort_secret = "evidence-cohort-secret-0123456789abcdef012345"

[defaults]
perspective_count = 6
quorum = "br"
call_timeout_ms = {CALL_TIMEOUT_MS}
deadline_ms = 10000
max_attempts = 1
caa_issuer_domains = ["ca.example"]

[api]
max_concurrent_checks = 200

[[api.client]]
name = "evidence-test"
key_sha256 = "{key_sha256}"

{evidence}
"#,
        signing_key = keys::seed_text(&keys::coordinator()),
    );
    for (site, url, key) in &fleet.configured {
        toml.push_str(&site.perspective_toml(url, key));
    }
    toml
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

/// One answer to `POST /mpic`: its status and, for a 200, the evidence id
/// and validity.
#[derive(Debug, Clone)]
enum Answer {
    Decided {
        id: String,
        valid: bool,
    },
    Refused {
        status: u16,
        body: Value,
    },
    /// No answer at all (the connection was cut).
    None,
}

async fn ask(client: &reqwest::Client, base_url: &str, key: &str, n: u64) -> Answer {
    let request = json!({
        "check_type": "caa",
        "domain_or_ip_target": format!("c{n}.evidence.example"),
    });
    let Ok(response) = client
        .post(format!("{base_url}/mpic"))
        .bearer_auth(key)
        .json(&request)
        .send()
        .await
    else {
        return Answer::None;
    };
    let status = response.status().as_u16();
    let Ok(body) = response.json::<Value>().await else {
        return Answer::None;
    };
    if status != 200 {
        return Answer::Refused { status, body };
    }
    Answer::Decided {
        id: body["x_mpic"]["evidence_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a 200 without x_mpic.evidence_id: {body:#}"))
            .to_owned(),
        valid: body["is_valid"].as_bool().unwrap(),
    }
}

/// `concurrency` tasks asking `urls` in turn until `until`; every answer.
async fn load(urls: &[String], key: &str, concurrency: u64, until: Instant) -> Vec<Answer> {
    let client = client();
    let urls: Arc<[String]> = urls.into();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let (client, urls, key) = (client.clone(), Arc::clone(&urls), key.to_owned());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                let mut n = task;
                // Bounded by the clock and by a count.
                while Instant::now() < until && answers.len() < 10_000 {
                    let url = &urls[usize::try_from(n).unwrap() % urls.len()];
                    answers.push(ask(&client, url, &key, n).await);
                    n += concurrency;
                }
                answers
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

fn decided(answers: &[Answer]) -> BTreeMap<String, bool> {
    answers
        .iter()
        .filter_map(|a| match a {
            Answer::Decided { id, valid } => Some((id.clone(), *valid)),
            _ => None,
        })
        .collect()
}

/// `mpic evidence ARGS --config CONFIG`: exit code and output.
async fn evidence_cli(config: &Path, args: &[&str]) -> (i32, String) {
    let mut all: Vec<String> = vec!["evidence".into()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    all.push("--config".into());
    all.push(config.display().to_string());
    let output = mpic_binary::run(all).await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// Rows of `table` in the database at `url`.
async fn count(url: &str, table: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    let n: i64 = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0);
    drop(client);
    let _ = task.await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coordinators_share_one_postgres_and_every_answered_decision_is_stored_once_and_verifies()
 {
    let fleet = fleet().await;
    let pg = PostgresServer::start().await.unwrap();
    let url = pg.create_database("evidence").await.unwrap();
    let api_key = new_api_key().unwrap();
    let section = |writer: &str| format!("[evidence]\nurl = \"{url}\"\nwriter = \"{writer}\"\n");
    let a = CoordinatorProcess::start(
        &config_toml(&fleet, &api_key.key_sha256, &section("coordinator-a")),
        "info",
    )
    .await
    .unwrap();
    let b = CoordinatorProcess::start(
        &config_toml(&fleet, &api_key.key_sha256, &section("coordinator-b")),
        "info",
    )
    .await
    .unwrap();

    let answers = load(
        &[a.base_url(), b.base_url()],
        &api_key.key,
        40,
        Instant::now() + Duration::from_secs(6),
    )
    .await;
    let decided = decided(&answers);
    assert_eq!(
        decided.len(),
        answers.len(),
        "every request is answered with a decision and a distinct record: {:?}",
        answers
            .iter()
            .filter(|a| !matches!(a, Answer::Decided { .. }))
            .take(3)
            .collect::<Vec<_>>()
    );
    assert!(decided.len() >= 40, "only {} decisions", decided.len());
    assert!(decided.values().all(|valid| *valid));
    // Exactly once: as many rows as answers, and every id among them.
    assert_eq!(
        count(&url, "decision_records").await,
        i64::try_from(decided.len()).unwrap()
    );

    // The hung perspective's calls time out after each decision; each is
    // kept as a late result.
    let deadline = Instant::now() + Duration::from_millis(CALL_TIMEOUT_MS * 4);
    while count(&url, "late_results").await < i64::try_from(decided.len()).unwrap()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        count(&url, "late_results").await >= i64::try_from(decided.len()).unwrap(),
        "a late result per decision"
    );

    let (code, text) = evidence_cli(a.config_path(), &["verify", "--all", "--chain"]).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "{} record(s) checked, 0 failed; chains intact",
            decided.len()
        )),
        "{text}"
    );
    // Both writers' chains are there.
    let (code, text) = evidence_cli(a.config_path(), &["list", "--limit", "100000"]).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("coordinator-a/") && text.contains("coordinator-b/"),
        "{text}"
    );

    // One record, for people and for an auditor.
    let id = decided.keys().next().unwrap();
    let (code, text) = evidence_cli(b.config_path(), &["show", id]).await;
    assert_eq!(code, 0, "{text}");
    for expected in [
        id.as_str(),
        "quorum result",
        "evidence.example",
        "us-east",
        HUNG,
    ] {
        assert!(
            text.contains(expected),
            "`show` lacks {expected:?}:\n{text}"
        );
    }
    assert!(text.contains("arrived after the decision"), "{text}");
    let (code, bundle) = evidence_cli(b.config_path(), &["export", id]).await;
    assert_eq!(code, 0, "{bundle}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, &bundle).unwrap();
    // Offline, with nothing but the bundle and the key to trust.
    let verify_bundle = |key: String| {
        mpic_binary::run(vec![
            "evidence".into(),
            "verify".into(),
            "--bundle".into(),
            path.display().to_string(),
            "--trusted-key".into(),
            key,
        ])
    };
    let coordinator_key =
        mpic_core::keys::format_verifying_key(&keys::coordinator().verifying_key());
    let output = verify_bundle(coordinator_key).await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let stranger = mpic_core::keys::format_verifying_key(&keys::perspective(9).verifying_key());
    let output = verify_bundle(stranger).await.unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("not a trusted coordinator key"),
        "{output:?}"
    );

    a.stop().await.unwrap();
    b.stop().await.unwrap();
    for p in fleet.perspectives {
        p.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_stopped_the_api_answers_503_never_valid_and_recovers_when_it_is_back() {
    let fleet = fleet().await;
    let mut pg = PostgresServer::start().await.unwrap();
    let url = pg.create_database("evidence").await.unwrap();
    let api_key = new_api_key().unwrap();
    let coordinator = CoordinatorProcess::start(
        &config_toml(
            &fleet,
            &api_key.key_sha256,
            &format!("[evidence]\nurl = \"{url}\"\n"),
        ),
        "info",
    )
    .await
    .unwrap();
    let client = client();
    let base = coordinator.base_url();
    assert!(matches!(
        ask(&client, &base, &api_key.key, 1).await,
        Answer::Decided { valid: true, .. }
    ));

    pg.stop().await.unwrap();
    for n in 2..5 {
        match ask(&client, &base, &api_key.key, n).await {
            Answer::Refused { status: 503, body } => {
                assert_eq!(body["error"], "evidence-store-unavailable", "{body:#}");
                // Clients learn that the store failed, not where it is.
                let message = body["message"].as_str().unwrap();
                assert!(
                    message.contains("evidence store is unavailable"),
                    "{body:#}"
                );
                assert!(!message.contains("127.0.0.1"), "{body:#}");
                assert!(body.get("is_valid").is_none(), "{body:#}");
            }
            other => panic!("with the store down: {other:?}"),
        }
    }

    pg.start_again().await.unwrap();
    let mut recovered = None;
    for n in 5..15 {
        if let Answer::Decided { id, valid } = ask(&client, &base, &api_key.key, n).await {
            recovered = Some((id, valid));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (id, valid) = recovered.expect("no decision after the store came back");
    assert!(valid);
    let (code, text) = evidence_cli(coordinator.config_path(), &["verify", &id]).await;
    assert_eq!(code, 0, "{text}");
    let (code, text) =
        evidence_cli(coordinator.config_path(), &["verify", "--all", "--chain"]).await;
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("2 record(s) checked, 0 failed; chains intact"),
        "{text}"
    );

    // A damaged chain head stops appends (503) rather than starting the
    // chain again.
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let task = tokio::spawn(connection);
    db.batch_execute("UPDATE chain_heads SET hash = '\\x00'")
        .await
        .unwrap();
    drop(db);
    let _ = task.await;
    assert!(
        matches!(
            ask(&client, &base, &api_key.key, 20).await,
            Answer::Refused { status: 503, .. }
        ),
        "an append over a damaged chain head was answered"
    );
    assert_eq!(count(&url, "decision_records").await, 2);

    coordinator.stop().await.unwrap();
    for p in fleet.perspectives {
        p.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_mid_load_loses_no_answered_decision() {
    let fleet = fleet().await;
    let api_key = new_api_key().unwrap();
    // No [evidence]: the default SQLite file beside the configuration.
    let mut coordinator =
        CoordinatorProcess::start(&config_toml(&fleet, &api_key.key_sha256, ""), "info")
            .await
            .unwrap();
    let urls = [coordinator.base_url()];
    let key = api_key.key.clone();
    let load = tokio::spawn(async move {
        load(&urls, &key, 30, Instant::now() + Duration::from_secs(8)).await
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    coordinator.kill_hard().unwrap();
    let answers = load.await.unwrap();
    let decided = decided(&answers);
    let cut = answers.iter().filter(|a| matches!(a, Answer::None)).count();
    assert!(!decided.is_empty(), "nothing was answered before the kill");
    assert!(cut > 0, "no request was in flight at the kill");
    assert!(
        answers.iter().all(|a| !matches!(a, Answer::Refused { .. })),
        "{answers:?}"
    );

    // Every answered decision is in the store, committed before it was sent.
    let path = coordinator.config_path().with_file_name("evidence.sqlite3");
    let stored: BTreeSet<String> = {
        let db = rusqlite::Connection::open(&path).unwrap();
        let mut statement = db.prepare("SELECT id FROM decision_records").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let missing: Vec<&String> = decided.keys().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "answered but not stored: {missing:?}");

    // It starts again on the same store, continues its chain, and all of it
    // verifies.
    coordinator.restart().await.unwrap();
    let after = ask(&client(), &coordinator.base_url(), &api_key.key, 999_999).await;
    assert!(
        matches!(after, Answer::Decided { valid: true, .. }),
        "{after:?}"
    );
    let (code, text) =
        evidence_cli(coordinator.config_path(), &["verify", "--all", "--chain"]).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 failed; chains intact"), "{text}");

    coordinator.stop().await.unwrap();
    for p in fleet.perspectives {
        p.stop().await;
    }
}
