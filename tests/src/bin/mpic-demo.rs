//! `scripts/demo`: a whole MPIC world on one machine. Six real workerd
//! perspectives (five RIRs) each resolve through their own view of a
//! loopback DNS world; an attacker poisons some views; the coordinator
//! decides. For each scenario it prints what every perspective saw and the
//! decision, then stops everything, also on Ctrl-C.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Instant;

use mpic_coordinator::{Decision, ResultStatus};
use mpic_core::caa::CaaObservation;
use mpic_core::check::CheckRequest;
use mpic_core::dcv::{DcvEvidence, DcvObservation};
use mpic_core::perspective::CheckObservation;
use mpic_tests::tcp_sink::TcpSink;
use mpic_tests::victim;
use mpic_tests::world::{CoordinatorSetup, SIX_SITES, World};

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    tokio::select! {
        result = run() => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e}");
                ExitCode::FAILURE
            }
        },
        _ = tokio::signal::ctrl_c() => {
            // Dropping run()'s future drops the World: every wrangler/workerd
            // process group and fixture server stops.
            eprintln!("\ninterrupted: stopping the perspectives and fixtures");
            ExitCode::from(130)
        }
    }
}

async fn run() -> Result<(), Error> {
    let started = Instant::now();
    println!("Starting the loopback world: a DoH resolver with one view per perspective,");
    println!("the honest web and TLS servers (127.0.0.1) and the attacker's (127.0.0.2), and six");
    println!("perspectives, each the real mpic-worker wasm under workerd (wrangler dev)...");
    let world = World::start(&victim::zone(), &SIX_SITES).await?;
    victim::serve_challenges(&world)?;
    victim::serve_tls_alpn(&world)?;
    println!("ready in {:.1} s:", started.elapsed().as_secs_f64());
    for p in &world.perspectives {
        println!(
            "  {:<13} {:<8} {:<12} {}",
            p.site.id,
            p.site.rir.as_str(),
            p.site.region,
            p.url()
        );
    }

    let caa = CheckRequest::from_value(&victim::caa_check())?;
    let dns01 = CheckRequest::from_value(&victim::dns01_check())?;
    let http01 = CheckRequest::from_value(&victim::http01_check())?;
    let tls_alpn01 = CheckRequest::from_value(&victim::tls_alpn01_check())?;
    let br = CoordinatorSetup::default();
    let strict = CoordinatorSetup {
        quorum: "strict",
        ..CoordinatorSetup::default()
    };

    scenario(&world, "1. Honest world: CAA check (BR quorum)", &br, &caa).await?;

    for id in ["us-east", "eu-west"] {
        world
            .perspective(id)
            .ok_or("no such perspective")?
            .view
            .override_text(r#"_acme-challenge.victim.example. 60 IN TXT "attacker-value""#)?;
    }
    scenario(
        &world,
        "2. DNS poisoning seen by 2 of 6: dns-01 (BR tolerates 2 of 6)",
        &br,
        &dns01,
    )
    .await?;
    world.reset();

    for id in ["us-west", "eu-west", "ap-southeast"] {
        world
            .perspective(id)
            .ok_or("no perspective")?
            .view
            .override_text("victim.example. 60 IN A 127.0.0.2")?;
    }
    scenario(
        &world,
        "3. Hijack of the web server seen by 3 of 6: http-01",
        &br,
        &http01,
    )
    .await?;
    world.reset();

    for id in ["us-east", "sa-east"] {
        world
            .perspective(id)
            .ok_or("no perspective")?
            .view
            .override_text("victim.example. 60 IN A 127.0.0.2")?;
    }
    scenario(
        &world,
        "3b. The attacker's TLS server answers acme-tls/1 for 2 of 6: tls-alpn-01 (BR tolerates 2 of 6)",
        &br,
        &tls_alpn01,
    )
    .await?;
    world.reset();

    world
        .perspective("af-south")
        .ok_or("no af-south")?
        .view
        .override_text(r#"victim.example. 60 IN CAA 0 issue "other-ca.example""#)?;
    scenario(
        &world,
        "4a. CAA forbidding us seen by 1 of 6 (BR policy)",
        &br,
        &caa,
    )
    .await?;
    scenario(
        &world,
        "4b. The same under the strict policy (all must agree)",
        &strict,
        &caa,
    )
    .await?;
    world.reset();

    let hang = TcpSink::start_holding().await?;
    let dead = mpic_tests::free_port()?;
    let down_and_slow = CoordinatorSetup {
        url_overrides: vec![
            ("sa-east".into(), format!("http://127.0.0.1:{dead}")),
            (
                "ap-southeast".into(),
                format!("http://127.0.0.1:{}", hang.port()),
            ),
        ],
        ..CoordinatorSetup::default()
    };
    scenario(
        &world,
        "5. One perspective down, one hanging: decided without waiting",
        &down_and_slow,
        &caa,
    )
    .await?;

    println!(
        "\nstopping six perspectives and the fixtures (demo took {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    drop(world);
    Ok(())
}

async fn scenario(
    world: &World,
    title: &str,
    setup: &CoordinatorSetup,
    spec: &CheckRequest,
) -> Result<(), Error> {
    println!("\n== {title}");
    let coordinator = world.coordinator(setup)?;
    let began = Instant::now();
    let decision = coordinator.check(spec).await?;
    let took = began.elapsed();
    print_table(&decision);
    let verdict = if decision.is_valid() {
        "VALID"
    } else {
        "NOT CORROBORATED"
    };
    println!(
        "decision: {verdict}  quorum {} ({} policy)  in {} ms",
        decision.tally().map(|t| t.to_string()).unwrap_or_default(),
        setup.quorum,
        took.as_millis()
    );
    for reason in decision.reasons() {
        println!("  reason: {reason}");
    }
    Ok(())
}

fn print_table(decision: &Decision) {
    println!(
        "  {:<13} {:<8} {:<44} {:<8} {:<9} {:>7}",
        "perspective", "RIR", "what it saw", "verdict", "signature", "latency"
    );
    let Some(attempt) = decision.final_attempt() else {
        println!("  (no attempt was made)");
        return;
    };
    for r in &attempt.results {
        let saw = r
            .verified
            .as_ref()
            .and_then(|body| body.observation.parse::<CheckObservation>().ok())
            .map(|o| what_it_saw(&o))
            .unwrap_or_else(|| r.detail.clone().unwrap_or_default());
        let verdict = match &r.status {
            ResultStatus::Corroborated => "agrees".to_string(),
            ResultStatus::Cancelled => "-".to_string(),
            ResultStatus::NotCorroborated { .. } => match &r.verified {
                Some(body) => body.verdict.as_str().to_owned(),
                None => "no report".to_string(),
            },
            // A status this demo does not know is not agreement.
            _ => "unknown".to_string(),
        };
        let signature = match (&r.verified, &r.report, &r.status) {
            (Some(_), _, _) => "ok",
            (None, Some(_), _) => "REFUSED",
            (None, None, ResultStatus::Cancelled) => "-",
            (None, None, _) => "none",
        };
        let latency = r
            .elapsed_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_else(|| "-".into());
        println!(
            "  {:<13} {:<8} {:<44} {:<8} {:<9} {:>7}",
            r.perspective_id,
            r.rir.as_str(),
            clip(&saw, 44),
            verdict,
            signature,
            latency
        );
    }
}

fn what_it_saw(observed: &CheckObservation) -> String {
    match observed {
        CheckObservation::Caa(CaaObservation {
            relevant_rrset: Some(rrset),
            ..
        }) => {
            format!("CAA {}", rrset.records.join(", "))
        }
        CheckObservation::Caa(_) => "no CAA records".into(),
        CheckObservation::Dcv(DcvObservation { evidence, .. }) => match evidence {
            DcvEvidence::Dns(dns) => dns
                .lookups
                .iter()
                .flat_map(|l| l.records_seen.iter())
                .next()
                .cloned()
                .unwrap_or_else(|| "no records".into()),
            DcvEvidence::Http(http) => format!(
                "HTTP {} {}",
                http.final_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                http.body_excerpt
            ),
            DcvEvidence::Certificate(certificate) => {
                let at = certificate
                    .contacted
                    .as_ref()
                    .map(|c| format!(" from {}", c.address))
                    .unwrap_or_default();
                format!(
                    "certificate {}{at}",
                    certificate.subject_alt_names.join(", ")
                )
            }
            DcvEvidence::None => "nothing".into(),
        },
        CheckObservation::NotRun { reason } => reason.clone(),
    }
}

fn clip(text: &str, width: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= width {
        one_line
    } else {
        let cut: String = one_line.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}
