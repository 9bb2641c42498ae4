//! Memory of the server under test, from `/proc/PID/status` (Linux).
//!
//! Two figures are read: `VmRSS` (resident set now) and `VmHWM` (the peak
//! resident set since the process started, kept by the kernel). A
//! [`Sampler`] polls `VmRSS` every 100 ms during a phase and keeps the
//! maximum, so a suite can report idle RSS before the load and peak RSS under
//! it; `VmHWM` catches peaks that fall between samples.
//!
//! The PID comes from `--pid`, or from `STATE_DIR/oxistack.pid` as written
//! by `oxistack up` ([`resolve_pid`]).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Default sampling period.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Name of the PID file `oxistack up` writes in its state directory.
pub const PID_FILE: &str = "oxistack.pid";

/// One reading of a process's memory, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemStatus {
    /// `VmRSS`: resident set size now.
    pub rss_kib: u64,
    /// `VmHWM`: peak resident set size since the process started.
    pub hwm_kib: u64,
}

/// KiB to MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Parse the `VmRSS` and `VmHWM` lines of a `/proc/PID/status` text.
pub fn parse_status(text: &str) -> anyhow::Result<MemStatus> {
    fn field(text: &str, name: &str) -> anyhow::Result<u64> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .with_context(|| format!("no {name} line (kernel thread or zombie?)"))?;
        let mut words = line.split_whitespace();
        let value: u64 = words
            .next()
            .with_context(|| format!("empty {name} line"))?
            .parse()
            .with_context(|| format!("bad {name} value"))?;
        match words.next() {
            Some("kB") | None => Ok(value),
            Some(unit) => bail!("unexpected unit {unit:?} for {name}"),
        }
    }
    Ok(MemStatus {
        rss_kib: field(text, "VmRSS")?,
        hwm_kib: field(text, "VmHWM")?,
    })
}

/// Read `/proc/PID/status` now.
pub async fn read(pid: u32) -> anyhow::Result<MemStatus> {
    let path = format!("/proc/{pid}/status");
    let text = tokio::fs::read_to_string(&path)
        .await
        .with_context(|| format!("reading {path} (is process {pid} running?)"))?;
    parse_status(&text).with_context(|| format!("parsing {path}"))
}

/// Parse the content of a PID file: one decimal number, whitespace around it allowed.
pub fn parse_pid_file(text: &str) -> anyhow::Result<u32> {
    let t = text.trim();
    match t.parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => bail!("PID file holds {t:?}, not a process id"),
    }
}

/// The PID to watch: `pid` if given, else the one in `state_dir/oxistack.pid`,
/// else `None` (memory is then not measured).
pub fn resolve_pid(pid: Option<u32>, state_dir: Option<&Path>) -> anyhow::Result<Option<u32>> {
    if let Some(pid) = pid {
        return Ok(Some(pid));
    }
    let Some(dir) = state_dir else {
        return Ok(None);
    };
    let path = dir.join(PID_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_pid_file(&text)
        .with_context(|| format!("in {}", path.display()))
        .map(Some)
}

/// What a [`Sampler`] saw.
#[derive(Debug, Clone, Default)]
pub struct RssSummary {
    /// Successful readings.
    pub samples: u64,
    /// Largest `VmRSS` seen, KiB.
    pub max_rss_kib: u64,
    /// `VmHWM` at the last reading, KiB.
    pub hwm_kib: u64,
    /// The first failed reading, if any (e.g. the process exited).
    pub first_error: Option<String>,
}

impl RssSummary {
    fn observe(&mut self, r: anyhow::Result<MemStatus>) {
        match r {
            Ok(m) => {
                self.samples += 1;
                self.max_rss_kib = self.max_rss_kib.max(m.rss_kib);
                self.hwm_kib = self.hwm_kib.max(m.hwm_kib);
            }
            Err(e) => {
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{e:#}"));
                }
            }
        }
    }
}

/// Polls a process's memory in the background until [`Sampler::finish`].
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<RssSummary>,
}

impl Sampler {
    /// Start sampling `pid` every `every` (a first sample is taken at once).
    pub fn start(pid: u32, every: Duration) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut summary = RssSummary::default();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => summary.observe(read(pid).await),
                }
            }
            summary.observe(read(pid).await);
            summary
        });
        Self { stop, task }
    }

    /// Stop sampling (after one last reading) and return what was seen.
    pub async fn finish(self) -> RssSummary {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(s) => s,
            Err(e) => RssSummary {
                first_error: Some(format!("sampler task failed: {e}")),
                ..RssSummary::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\toxistack\nUmask:\t0022\nState:\tS (sleeping)\n\
        VmPeak:\t  812344 kB\nVmSize:\t  812340 kB\nVmLck:\t       0 kB\n\
        VmHWM:\t   31234 kB\nVmRSS:\t   28672 kB\nRssAnon:\t   12000 kB\nThreads:\t5\n";

    #[test]
    fn parses_proc_status() {
        let m = parse_status(STATUS).unwrap();
        assert_eq!(
            m,
            MemStatus {
                rss_kib: 28_672,
                hwm_kib: 31_234
            }
        );
        assert_eq!(mib(m.rss_kib), 28.0);
    }

    #[test]
    fn missing_fields_are_errors() {
        let err = parse_status("Name:\tkthreadd\nState:\tS\n").unwrap_err();
        assert!(err.to_string().contains("VmRSS"), "{err}");
        assert!(parse_status("VmRSS:\tlots kB\nVmHWM:\t1 kB\n").is_err());
        assert!(parse_status("VmRSS:\t1 MB\nVmHWM:\t1 kB\n").is_err());
    }

    #[test]
    fn pid_files() {
        assert_eq!(parse_pid_file("1234\n").unwrap(), 1234);
        assert_eq!(parse_pid_file("  42  ").unwrap(), 42);
        assert!(parse_pid_file("").is_err());
        assert!(parse_pid_file("0").is_err());
        assert!(parse_pid_file("abc").is_err());

        let dir = std::env::temp_dir().join(format!("bench-rss-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(PID_FILE), "777\n").unwrap();
        assert_eq!(resolve_pid(None, Some(&dir)).unwrap(), Some(777));
        assert_eq!(resolve_pid(Some(5), Some(&dir)).unwrap(), Some(5));
        assert_eq!(resolve_pid(None, None).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(resolve_pid(None, Some(&dir)).is_err());
    }

    #[tokio::test]
    async fn samples_own_process() {
        let pid = std::process::id();
        let now = read(pid).await.unwrap();
        assert!(now.rss_kib > 0 && now.hwm_kib >= now.rss_kib / 2);
        let s = Sampler::start(pid, Duration::from_millis(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let summary = s.finish().await;
        assert!(summary.samples >= 2, "{summary:?}");
        assert!(summary.max_rss_kib > 0);
        assert!(summary.first_error.is_none());
    }
}
