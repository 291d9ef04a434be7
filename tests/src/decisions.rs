//! Reading a coordinator's [`Decision`] in end-to-end tests: one
//! perspective's result, and a summary for assertion messages.

use mpic_coordinator::{Decision, PerspectiveResult};

/// The final attempt's result for perspective `id`; panics (with the
/// summary) if `id` was not in that cohort.
pub fn result<'a>(decision: &'a Decision, id: &str) -> &'a PerspectiveResult {
    decision
        .final_attempt()
        .and_then(|attempt| attempt.results.iter().find(|r| r.perspective_id == id))
        .unwrap_or_else(|| panic!("{id} not in the final cohort\n{}", summary(decision)))
}

/// The decision, its reasons and one line per perspective of the final
/// attempt (status and detail).
pub fn summary(decision: &Decision) -> String {
    let mut out = format!(
        "valid={} quorum={} reasons={:?}",
        decision.is_valid(),
        decision.tally().map(|t| t.to_string()).unwrap_or_default(),
        decision
            .reasons()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    for r in decision.final_attempt().iter().flat_map(|a| &a.results) {
        out.push_str(&format!(
            "\n  {}={} ({})",
            r.perspective_id,
            r.status.summary(),
            r.detail.as_deref().unwrap_or_default()
        ));
    }
    out
}
