//! Samples a process's resident memory (`VmRSS` of `/proc/<pid>/status`,
//! Linux) at a fixed interval on its own thread, and summarises the samples
//! so a test can tell bounded memory from memory that keeps growing.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySample {
    /// Since the watch started.
    pub at: Duration,
    pub rss_kib: u64,
}

/// A `Vm*` field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`, ...);
/// `None` when the process is gone or the field is missing.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&text, field)
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Samples `VmRSS` of one process until finished or dropped.
pub struct MemoryWatch {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Vec<MemorySample>>>,
}

impl MemoryWatch {
    /// Samples `pid` now and every `interval`, at most `max_samples` times
    /// (the bound on the thread's life and memory); a sample is skipped when
    /// the file cannot be read.
    pub fn start(pid: u32, interval: Duration, max_samples: usize) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("memory-watch".into())
            .spawn(move || {
                let started = Instant::now();
                let mut samples = Vec::new();
                for _ in 0..max_samples {
                    if let Some(rss_kib) = status_kib(pid, "VmRSS") {
                        samples.push(MemorySample {
                            at: started.elapsed(),
                            rss_kib,
                        });
                    }
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                samples
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops sampling; returns the samples in time order.
    pub fn finish(mut self) -> Vec<MemorySample> {
        self.halt()
    }

    fn halt(&mut self) -> Vec<MemorySample> {
        drop(self.stop.take());
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for MemoryWatch {
    fn drop(&mut self) {
        self.halt();
    }
}

/// What a run's samples say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssSummary {
    pub samples: usize,
    pub min_kib: u64,
    pub max_kib: u64,
    /// Highest reading in the first third of the samples.
    pub first_third_peak_kib: u64,
    /// Highest reading in the last third of the samples.
    pub last_third_peak_kib: u64,
}

impl RssSummary {
    /// `None` with fewer than three samples (no thirds to compare).
    pub fn of(samples: &[MemorySample]) -> Option<Self> {
        let n = samples.len();
        if n < 3 {
            return None;
        }
        let third = n / 3;
        let peak = |part: &[MemorySample]| part.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        Some(Self {
            samples: n,
            min_kib: samples.iter().map(|s| s.rss_kib).min().unwrap_or(0),
            max_kib: peak(samples),
            first_third_peak_kib: peak(&samples[..third]),
            last_third_peak_kib: peak(&samples[n - third..]),
        })
    }

    /// Whether the last third's peak exceeds the first third's times
    /// `factor` plus `slack_kib`: memory that keeps growing under a steady
    /// load, rather than settling once the load's connections and buffers
    /// exist.
    pub fn kept_growing(&self, factor: f64, slack_kib: u64) -> bool {
        // KiB counts of a process are far below 2^52: exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        let allowed = self.first_third_peak_kib as f64 * factor + slack_kib as f64;
        #[allow(clippy::cast_precision_loss)]
        let last = self.last_third_peak_kib as f64;
        last > allowed
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn samples(kib: &[u64]) -> Vec<MemorySample> {
        kib.iter()
            .enumerate()
            .map(|(i, &rss_kib)| MemorySample {
                at: Duration::from_secs(i as u64),
                rss_kib,
            })
            .collect()
    }

    #[test]
    fn status_fields_are_read_in_kib() {
        let status = "Name:\tmpic\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t3\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(102_400));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(204_800));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        assert_eq!(parse_status_kib("VmRSS:\tlots kB\n", "VmRSS"), None);
    }

    #[test]
    fn this_process_has_resident_memory() {
        let watch = MemoryWatch::start(std::process::id(), Duration::from_millis(5), 3).unwrap();
        let taken = watch.finish();
        assert!(!taken.is_empty() && taken.len() <= 3, "{taken:?}");
        assert!(taken.iter().all(|s| s.rss_kib > 0), "{taken:?}");
    }

    #[test]
    fn thirds_and_growth() {
        // (readings, first-third peak, last-third peak, grew beyond x1.5 + 10)
        let table: [(&[u64], u64, u64, bool); 5] = [
            // Ramp, then flat: bounded.
            (&[10, 100, 100, 100, 100, 100], 100, 100, false),
            // Settling lower at the end: bounded.
            (&[50, 200, 150, 120, 110, 100], 200, 110, false),
            // Just inside the allowance (100 * 1.5 + 10 = 160).
            (&[100, 100, 130, 140, 160, 160], 100, 160, false),
            // Steady growth past it.
            (&[100, 100, 140, 160, 170, 200], 100, 200, true),
            // A third that is not a whole number of samples: 7 / 3 = 2.
            (&[100, 90, 500, 500, 500, 100, 100], 100, 100, false),
        ];
        for (readings, first, last, grew) in table {
            let summary = RssSummary::of(&samples(readings)).unwrap();
            assert_eq!(summary.first_third_peak_kib, first, "{readings:?}");
            assert_eq!(summary.last_third_peak_kib, last, "{readings:?}");
            assert_eq!(summary.kept_growing(1.5, 10), grew, "{readings:?}");
        }
        let spread = RssSummary::of(&samples(&[100, 90, 500, 500, 500, 100, 100])).unwrap();
        assert_eq!((spread.min_kib, spread.max_kib), (90, 500));
        assert_eq!(RssSummary::of(&samples(&[1, 2])), None);
    }
}
