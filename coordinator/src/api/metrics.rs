//! `GET /metrics`: counters and a latency histogram in the Prometheus text
//! exposition format 0.0.4, written by hand (a few series, no dependency).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `mpic_http_requests_total` | counter | `route` (`/mpic`, `/healthz`, `/metrics`, `other`), `status` |
//! | `mpic_decisions_total` | counter | `check_type` (`caa`, `dcv`), `outcome` (`valid`, `invalid`, `incomplete`) |
//! | `mpic_perspective_call_duration_seconds` | histogram | `perspective` |
//! | `mpic_perspective_failures_total` | counter | `perspective`, `reason` (`timeout`, `unreachable`, `bad_signature`, `stale`, `wrong_nonce`, `unknown_perspective`, `invalid_report`, `perspective_error`, `mismatch`) |
//! | `mpic_checks_in_flight` | gauge | |
//!
//! `incomplete` is a decision whose `mpic_completed` is false (the
//! coordinator itself failed); `invalid` is a completed check without quorum.
//! Call durations are those of calls that got an answer or timed out, every
//! attempt included; calls cancelled once quorum was certain are not timed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use crate::decision::{Decision, ResultStatus};

use super::response::reason_kind;

/// The `Content-Type` of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the call duration buckets, in seconds. A perspective call
/// is typically tens to hundreds of milliseconds; the default call timeout
/// is 10 s.
pub const DURATION_BUCKETS: [f64; 10] = [0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Default, Clone, PartialEq)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let at = DURATION_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[at] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Series {
    requests: BTreeMap<(String, u16), u64>,
    decisions: BTreeMap<(&'static str, &'static str), u64>,
    call_duration: BTreeMap<String, Histogram>,
    failures: BTreeMap<(String, &'static str), u64>,
}

/// The API's metrics. Cheap to update; one short lock per update.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<Series>,
}

impl Metrics {
    fn series(&self) -> std::sync::MutexGuard<'_, Series> {
        // Every update leaves the maps consistent, so a panic elsewhere while
        // the lock was held cannot have left them half-written.
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One HTTP request answered.
    pub fn count_request(&self, route: &str, status: u16) {
        *self
            .series()
            .requests
            .entry((route.to_owned(), status))
            .or_default() += 1;
    }

    /// One decision, with every perspective call of every attempt.
    pub fn record_decision(&self, decision: &Decision) {
        let outcome = if decision.outcome() == crate::Outcome::Incomplete {
            "incomplete"
        } else if decision.is_valid() {
            "valid"
        } else {
            "invalid"
        };
        let mut series = self.series();
        *series
            .decisions
            .entry((decision.check_type().as_str(), outcome))
            .or_default() += 1;
        for result in decision.attempts().iter().flat_map(|a| &a.results) {
            if let Some(ms) = result.elapsed_ms {
                // Milliseconds to seconds; precision loss only past 2^52 ms.
                #[allow(clippy::cast_precision_loss)]
                let seconds = ms as f64 / 1000.0;
                series
                    .call_duration
                    .entry(result.perspective_id.clone())
                    .or_default()
                    .observe(seconds);
            }
            if let ResultStatus::NotCorroborated { reason } = &result.status {
                *series
                    .failures
                    .entry((result.perspective_id.clone(), reason_kind(reason)))
                    .or_default() += 1;
            }
        }
    }

    /// The exposition text.
    pub fn render(&self, checks_in_flight: usize) -> String {
        let series = self.series();
        let mut out = String::new();
        header(
            &mut out,
            "mpic_http_requests_total",
            "counter",
            "HTTP requests answered, by route and status.",
        );
        for ((route, status), n) in &series.requests {
            sample(
                &mut out,
                "mpic_http_requests_total",
                &[("route", route), ("status", &status.to_string())],
                *n,
            );
        }
        header(
            &mut out,
            "mpic_decisions_total",
            "counter",
            "MPIC decisions, by check type and outcome (valid, invalid, incomplete).",
        );
        for ((check_type, outcome), n) in &series.decisions {
            sample(
                &mut out,
                "mpic_decisions_total",
                &[("check_type", check_type), ("outcome", outcome)],
                *n,
            );
        }
        header(
            &mut out,
            "mpic_perspective_call_duration_seconds",
            "histogram",
            "Time from sending a check to a perspective to its answer or timeout.",
        );
        for (perspective, histogram) in &series.call_duration {
            let mut cumulative = 0;
            for (i, n) in histogram.buckets.iter().enumerate() {
                cumulative += n;
                let le = DURATION_BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                sample(
                    &mut out,
                    "mpic_perspective_call_duration_seconds_bucket",
                    &[("perspective", perspective), ("le", &le)],
                    cumulative,
                );
            }
            sample(
                &mut out,
                "mpic_perspective_call_duration_seconds_sum",
                &[("perspective", perspective)],
                histogram.sum,
            );
            sample(
                &mut out,
                "mpic_perspective_call_duration_seconds_count",
                &[("perspective", perspective)],
                histogram.count,
            );
        }
        header(
            &mut out,
            "mpic_perspective_failures_total",
            "counter",
            "Perspective results that did not corroborate, by reason.",
        );
        for ((perspective, reason), n) in &series.failures {
            sample(
                &mut out,
                "mpic_perspective_failures_total",
                &[("perspective", perspective), ("reason", reason)],
                *n,
            );
        }
        header(
            &mut out,
            "mpic_checks_in_flight",
            "gauge",
            "Checks running now.",
        );
        sample(&mut out, "mpic_checks_in_flight", &[], checks_in_flight);
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    let _ = write!(out, "{name}");
    if !labels.is_empty() {
        let rendered: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
            .collect();
        let _ = write!(out, "{{{}}}", rendered.join(","));
    }
    let _ = writeln!(out, " {value}");
}

/// Label value escaping of the text format: backslash, quote, newline.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
