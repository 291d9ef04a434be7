//! mpic-worker: one remote network perspective, run by Cloudflare Workers.
#![forbid(unsafe_code)]

use serde::Serialize;
use worker::{Context, Env, Request, Response, Result, Router, event};

const CODE_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize)]
struct Identity {
    perspective_id: String,
    rir: String,
    region: String,
    code_version: &'static str,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Router::new()
        .get("/v1/identity", |_, ctx| {
            let var = |name: &str| ctx.env.var(name).map(|v| v.to_string());
            let identity = Identity {
                perspective_id: var("PERSPECTIVE_ID")?,
                rir: var("RIR")?,
                region: var("REGION")?,
                code_version: CODE_VERSION,
            };
            Response::from_json(&identity)
        })
        .run(req, env)
        .await
}
