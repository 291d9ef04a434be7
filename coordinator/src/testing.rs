//! What only tests need: parts the end-to-end tests reuse, and decisions
//! made up to test how decisions are shown, counted and stored (never made
//! by a [`crate::Coordinator`], so never a verdict on anything). Only with
//! the `testing` feature (this crate's tests and the end-to-end tests crate);
//! a workspace build that includes the tests crate compiles it into the
//! binary too (Cargo unifies features), where nothing calls it.

use crate::check_call::CheckType;
use crate::decision::{AttemptRecord, Decision, Facts, Outcome, PrimaryResult, Reason};

/// A made-up decision with these parts (no orchestration adjustments, no
/// late results).
pub fn made_up_decision(
    outcome: Outcome,
    target: &str,
    check_type: CheckType,
    reasons: Vec<Reason>,
    perspective_count: usize,
    attempts: Vec<AttemptRecord>,
    primary: Option<PrimaryResult>,
) -> Decision {
    Decision {
        facts: Facts {
            outcome,
            target: target.to_owned(),
            check_type,
            reasons,
            perspective_count,
            attempts,
            primary,
            orchestration_adjustments: Vec::new(),
            stragglers: Default::default(),
        },
    }
}

/// What the end-to-end tests reuse to build their loopback perspectives and
/// clients the way the coordinator builds its own.
#[cfg(any(test, feature = "openapi-schema"))]
pub use crate::api::open_mpic_schema::OpenMpicSchema;
pub use crate::http_read::{error_chain, header_text, read_bounded};
pub use crate::native_network::ReqwestDohTransport;
