//! What an upload costs the server in CPU: the CPU-seconds (user + system,
//! from `/proc/PID/stat`, threads that ended included) the server process
//! spends per GiB received, measured with the bench's own client and with a
//! plain `curl -T FILE`, beside the floor of the digests the server must
//! compute (`openssl dgst` MD5 and SHA-512 of the same file, timed by
//! bash's `time`), all in the same minute so a busy machine shows in all
//! of them.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::disk::Spread;
use crate::report::Table;

/// Clock ticks per second of `/proc/PID/stat`'s times: 100 on every Linux
/// this runs on (`USER_HZ`, fixed by the kernel ABI).
const TICKS_PER_SECOND: f64 = 100.0;
const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;

/// User + system ticks in the text of `/proc/PID/stat`. The command name
/// (field 2) may hold spaces and parentheses: fields are counted after its
/// last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU-seconds the process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_stat_ticks(&text).with_context(|| format!("parsing {path}"))?;
    Ok(ticks as f64 / TICKS_PER_SECOND)
}

/// One upload: its rate and the server CPU it cost.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub mib_per_s: f64,
    pub cpu_per_gib: f64,
}

/// Times `upload` of `bytes` and the server CPU it used.
pub async fn measure<F, Fut>(pid: u32, bytes: u64, upload: F) -> anyhow::Result<Sample>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let before = cpu_seconds(pid)?;
    let start = Instant::now();
    upload().await?;
    let elapsed = start.elapsed();
    // The fsync and the 201 come before the reply: nothing of the upload
    // runs after it, but give the threads a moment to be accounted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = cpu_seconds(pid)?;
    Ok(sample(bytes, elapsed, after - before))
}

fn sample(bytes: u64, elapsed: Duration, cpu: f64) -> Sample {
    let b = bytes.max(1) as f64;
    Sample {
        mib_per_s: b / MIB / elapsed.as_secs_f64().max(1e-9),
        cpu_per_gib: cpu * GIB / b,
    }
}

/// `curl -T file` with `headers`; fails unless the status is `expect`.
pub async fn curl_upload(
    file: &Path,
    url: &str,
    headers: &[(&str, &str)],
    expect: u16,
) -> anyhow::Result<()> {
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
        .arg(file);
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    let out = cmd
        .arg(url)
        .output()
        .await
        .context("running curl (is it installed?)")?;
    let status = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || status.trim() != expect.to_string() {
        bail!(
            "curl -T answered {} ({})",
            status.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// CPU-seconds per GiB `openssl dgst` spends on MD5 and SHA-512 of `file`
/// (read from the page cache): the floor of a Glance upload's CPU.
pub async fn openssl_floor(file: &Path, bytes: u64) -> anyhow::Result<f64> {
    let script =
        "f=\"$1\"; time -p { openssl dgst -md5 \"$f\" && openssl dgst -sha512 \"$f\"; } >/dev/null";
    let out = tokio::process::Command::new("bash")
        .args(["-c", script, "floor"])
        .arg(file)
        .output()
        .await
        .context("running openssl dgst under bash's time")?;
    if !out.status.success() {
        bail!(
            "openssl dgst: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let cpu = parse_time_p(&String::from_utf8_lossy(&out.stderr))
        .context("no user/sys times from bash's time -p")?;
    Ok(cpu * GIB / bytes.max(1) as f64)
}

/// user + sys seconds of `time -p`'s report.
pub fn parse_time_p(text: &str) -> Option<f64> {
    let field = |name: &str| -> Option<f64> {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
    };
    Some(field("user ")? + field("sys ")?)
}

/// Results of the CPU rounds.
#[derive(Debug, Clone, Default)]
pub struct CpuResults {
    pub bench: Vec<Sample>,
    pub curl: Vec<Sample>,
    pub floor: Vec<f64>,
    /// CPU-seconds per GiB the server may spend.
    pub target: f64,
}

fn spread_text(s: Option<Spread>, digits: usize) -> (String, String) {
    match s {
        Some(s) => (
            format!("{:.*}", digits, s.median),
            format!("{:.*}–{:.*}", digits, s.min, digits, s.max),
        ),
        None => ("—".into(), "—".into()),
    }
}

/// The table: one row per client, then the floor.
pub fn table(r: &CpuResults) -> Table {
    let mut t = Table::new([
        "upload client",
        "MiB/s (median)",
        "server CPU-s per GiB (median)",
        "min–max",
        "target",
        "verdict",
    ]);
    for (name, samples) in [("bench client", &r.bench), ("curl -T FILE", &r.curl)] {
        let rate = Spread::of(samples.iter().map(|s| s.mib_per_s));
        let cpu = Spread::of(samples.iter().map(|s| s.cpu_per_gib));
        let (rate_text, _) = spread_text(rate, 0);
        let (cpu_text, cpu_range) = spread_text(cpu, 2);
        let verdict = match cpu {
            Some(c) if c.median <= r.target => "pass",
            Some(_) => "missed",
            None => "—",
        };
        t.row([
            name.to_string(),
            rate_text,
            cpu_text,
            cpu_range,
            format!("≤ {:.1}", r.target),
            verdict.to_string(),
        ]);
    }
    let (floor, floor_range) = spread_text(Spread::of(r.floor.iter().copied()), 2);
    t.row([
        "floor: openssl dgst MD5 + SHA-512".to_string(),
        "—".into(),
        floor,
        floor_range,
        "—".into(),
        "info".into(),
    ]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_count_fields_after_the_name() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 9923 0 0 0 \
                    315 112 0 0 20 0 12 0 100 1000 2000";
        assert_eq!(parse_stat_ticks(stat), Some(427));
        assert_eq!(parse_stat_ticks("4242 (x) S 1"), None);
        assert_eq!(parse_stat_ticks("no name here"), None);
    }

    #[test]
    fn own_cpu_time_is_readable() -> anyhow::Result<()> {
        let t = cpu_seconds(std::process::id())?;
        assert!(t >= 0.0);
        Ok(())
    }

    #[test]
    fn time_p_sums_user_and_sys() {
        let out = "MD5(f)= x\nreal 3.20\nuser 2.50\nsys 0.25\n";
        assert_eq!(parse_time_p(out), Some(2.75));
        assert_eq!(parse_time_p("real 1.0\n"), None);
    }

    #[test]
    fn samples_scale_to_a_gib_and_the_table_judges_medians() {
        let s = sample(512 << 20, Duration::from_secs(2), 2.0);
        assert_eq!(s.mib_per_s, 256.0);
        assert_eq!(s.cpu_per_gib, 4.0);
        let r = CpuResults {
            bench: vec![s, sample(1 << 30, Duration::from_secs(4), 5.0)],
            curl: vec![sample(1 << 30, Duration::from_secs(4), 4.4)],
            floor: vec![3.0, 3.2, 3.1],
            target: 4.5,
        };
        let md = table(&r).to_markdown();
        assert!(
            md.contains("| bench client | 256 | 4.50 | 4.00–5.00 | ≤ 4.5 | pass |"),
            "{md}"
        );
        assert!(md.contains("| curl -T FILE | 256 | 4.40 | 4.40–4.40 | ≤ 4.5 | pass |"));
        assert!(
            md.contains("| floor: openssl dgst MD5 + SHA-512 | — | 3.10 | 3.00–3.20 | — | info |")
        );
    }
}
