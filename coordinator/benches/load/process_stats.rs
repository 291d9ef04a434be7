//! What this process has used, from `/proc`: CPU time per thread group (by
//! thread name) and peak resident memory. Linux only; std only, so the
//! workerd benchmark in mpic-tests includes this file too.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Clock ticks per second of the `/proc/*/stat` CPU fields (`USER_HZ`); the
/// kernel reports in these units whatever its internal `HZ`, and it is 100
/// on every architecture Linux ships.
const USER_HZ: u64 = 100;

/// utime + stime of the task whose `stat` file is at `path`, and its name.
pub fn task_cpu(stat_path: &Path) -> Option<(String, Duration)> {
    let text = std::fs::read_to_string(stat_path).ok()?;
    // `pid (comm) state ...`: comm may contain spaces and parentheses, so
    // split at the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
    // After comm: field 3 is state (index 0 here); utime and stime are
    // fields 14 and 15 of stat(5).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, ticks(utime + stime)))
}

fn ticks(n: u64) -> Duration {
    Duration::from_millis(n * 1000 / USER_HZ)
}

/// CPU time of this whole process so far (live and exited threads).
pub fn process_cpu() -> Duration {
    task_cpu(Path::new("/proc/self/stat"))
        .map(|(_, cpu)| cpu)
        .unwrap_or_default()
}

/// CPU time of this process's live threads, summed by thread name with any
/// trailing `-<n>` removed (tokio names its workers `name-0`, `name-1`, ...
/// only when told to; we name whole runtimes).
pub fn cpu_by_thread_name() -> BTreeMap<String, Duration> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        if let Some((name, cpu)) = task_cpu(&task.path().join("stat")) {
            *by_name.entry(name).or_insert(Duration::ZERO) += cpu;
        }
    }
    by_name
}

/// The difference between two [`cpu_by_thread_name`] readings.
pub fn cpu_delta(
    before: &BTreeMap<String, Duration>,
    after: &BTreeMap<String, Duration>,
) -> BTreeMap<String, Duration> {
    after
        .iter()
        .map(|(name, cpu)| {
            let earlier = before.get(name).copied().unwrap_or_default();
            (name.clone(), cpu.saturating_sub(earlier))
        })
        .collect()
}

/// A `Vm*` line of `/proc/<pid>/status`, in KiB.
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Peak resident set size of this process (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    status_kib("self", "VmHWM")
}

/// The soft limit on open files (`ulimit -n`).
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The machine, for the record: CPU count and model, and memory.
pub fn machine_summary() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or_else(
            || "?".into(),
            |kib| format!("{:.1} GiB", kib as f64 / 1048576.0),
        );
    // Other work on a shared machine shows here; numbers taken under load
    // are slower and noisier.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    format!("{cpus} CPUs ({model}), {memory} RAM, load average {load} at start")
}

/// Latency percentiles over a sample (sorted in place).
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl Percentiles {
    /// Nearest-rank percentiles of `sample`.
    pub fn of(sample: &mut [Duration]) -> Self {
        if sample.is_empty() {
            return Self::default();
        }
        sample.sort_unstable();
        let rank = |p: f64| {
            let index = ((p / 100.0) * sample.len() as f64).ceil() as usize;
            sample[index.clamp(1, sample.len()) - 1]
        };
        let total: Duration = sample.iter().sum();
        Self {
            count: sample.len(),
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: sample[sample.len() - 1],
            mean: total / u32::try_from(sample.len()).unwrap_or(u32::MAX),
        }
    }
}

/// `1.23 ms`, `456 µs`, `12.3 s`: durations as people read them.
pub fn human(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}
