//! `scripts/demo`: runs the perspective worker for real under workerd on
//! 127.0.0.1, asks it who it is, prints the answer, and stops everything,
//! also on Ctrl-C.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use mpic_tests::keys;
use mpic_tests::workerd::{Perspective, PerspectiveSpec};

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
            // Dropping run()'s future drops every Perspective, which stops
            // its wrangler/workerd process group.
            eprintln!("\ninterrupted: stopping the perspectives");
            ExitCode::from(130)
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut spec = PerspectiveSpec::default();
    for (key, value) in [
        ("PERSPECTIVE_ID", "demo-fra".to_string()),
        ("RIR", "ripe".into()),
        ("REGION", "eu-central (Frankfurt)".into()),
        ("LATITUDE", "50.11".into()),
        ("LONGITUDE", "8.68".into()),
        ("DOH_RESOLVERS", "https://dns.example/dns-query".into()),
        ("COORDINATOR_KEYS", keys::public_text(&keys::coordinator())),
        ("SIGNING_KEY", keys::seed_text(&keys::perspective(1))),
    ] {
        spec.vars.insert(key.into(), value);
    }
    println!(
        "starting perspective {:?} under workerd (wrangler dev) ...",
        spec.vars["PERSPECTIVE_ID"]
    );
    let perspective = Perspective::start(&spec).await?;
    let url = format!("{}/v1/identity", perspective.base_url());
    println!("GET {url}");
    let response = reqwest::get(&url).await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    println!("{status}\n{}", serde_json::to_string_pretty(&body)?);
    println!("stopping the perspective");
    Ok(())
}
