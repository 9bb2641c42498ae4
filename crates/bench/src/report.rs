//! Turning measurements into text: number formatting, a plain-text table
//! for the terminal, a Markdown table for `BENCHMARKS.md`, the command line
//! that produced them (with secrets masked), and a one-line description of
//! the machine.

use std::time::Duration;

/// A table: header plus rows of cells, rendered as aligned text or Markdown.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Append a row (missing cells render empty, extra cells are dropped).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// Space-aligned plain text, first column left-aligned, others right-aligned.
    pub fn to_text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    if i == 0 {
                        format!("{cell:<w$}")
                    } else {
                        format!("{cell:>w$}")
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        out
    }

    /// GitHub-flavoured Markdown, numeric columns right-aligned.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &String| s.replace('|', "\\|");
        let mut out = format!(
            "| {} |\n",
            self.header.iter().map(esc).collect::<Vec<_>>().join(" | ")
        );
        let align: Vec<&str> = (0..self.header.len())
            .map(|i| if i == 0 { ":---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", align.join(" | ")));
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(esc).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }
}

/// `12345.6` -> `"12,346"`.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let n = v.round().abs() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if v.round() < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// A latency in a human unit: `"87 µs"`, `"1.25 ms"`, `"2.10 s"`.
pub fn latency(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// Bytes per second in MiB/s.
pub fn mib_per_s(bytes_per_s: f64) -> String {
    format!("{:.1} MiB/s", bytes_per_s / (1024.0 * 1024.0))
}

/// A KiB figure as `"23.4 MiB"`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", crate::rss::mib(kib))
}

/// Options whose value is a secret and must not be printed.
const SECRET_OPTIONS: &[&str] = &["--password"];

/// The command line as a shell would take it back, secret values masked.
pub fn command_line(args: impl IntoIterator<Item = String>) -> String {
    let mut out = Vec::new();
    let mut mask_next = false;
    for (i, a) in args.into_iter().enumerate() {
        if mask_next {
            out.push("'***'".to_owned());
            mask_next = false;
            continue;
        }
        if i > 0 {
            if let Some(opt) = SECRET_OPTIONS.iter().find(|o| a.starts_with(*o)) {
                if a == *opt {
                    mask_next = true;
                } else if a.get(opt.len()..).is_some_and(|r| r.starts_with('=')) {
                    out.push(format!("{opt}='***'"));
                    continue;
                }
            }
        }
        out.push(shell_quote(&a));
    }
    out.join(" ")
}

fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The errors a run saw, as the terminal part of a report lists them
/// (nothing when there were none).
pub fn errors_text(errors: &[String]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nerrors:\n");
    for e in errors {
        out.push_str(&format!("  {e}\n"));
    }
    out
}

/// The same list in Markdown (a backtick in an error would open inline
/// code, so it becomes a quote).
pub fn errors_markdown(errors: &[String]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nErrors:\n\n");
    for e in errors {
        out.push_str(&format!("- {}\n", e.replace('`', "'")));
    }
    out
}

/// The block every report ends with, to paste into `BENCHMARKS.md`: a
/// `#### title` section saying the command, the machine and the setup,
/// then `body` (the Markdown tables), between marker lines.
pub fn markdown_block(
    title: &str,
    command_line: &str,
    machine: &str,
    setup: &str,
    body: &str,
) -> String {
    format!(
        "\n--- Markdown for BENCHMARKS.md ---\n#### {title}\n\n\
         Command: `{command_line}`\n\n\
         Machine: {machine}. {setup}.\n\n\
         {body}--- end ---\n"
    )
}

/// `"AMD EPYC, 2 CPUs, Linux 6.1.0"` (what is known of this machine).
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!(", Linux {}", s.trim()))
        .unwrap_or_default();
    format!("{cpu}, {cpus} CPUs{kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(12_345.6), "12,346");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-1500.0), "-1,500");
        assert_eq!(thousands(f64::NAN), "-");
        assert_eq!(latency(Duration::from_micros(87)), "87 µs");
        assert_eq!(latency(Duration::from_micros(1_250)), "1.25 ms");
        assert_eq!(latency(Duration::from_millis(2_100)), "2.10 s");
        assert_eq!(mib(40 * 1024), "40.0 MiB");
        assert_eq!(mib_per_s(3.0 * 1024.0 * 1024.0), "3.0 MiB/s");
    }

    #[test]
    fn command_line_masks_password() {
        let args = [
            "target/release/oxistack",
            "bench",
            "identity",
            "--password",
            "hunter2",
            "--url",
            "http://127.0.0.9:5000",
            "--password=x y",
            "--project",
            "my project",
        ]
        .map(String::from);
        assert_eq!(
            command_line(args),
            "target/release/oxistack bench identity --password '***' \
             --url http://127.0.0.9:5000 --password='***' --project 'my project'"
        );
    }

    #[test]
    fn tables() {
        let mut t = Table::new(["name", "req/s"]);
        t.row(["validate", "12,000"]);
        t.row(["a|b"]);
        assert_eq!(t.to_text(), "name       req/s\nvalidate  12,000\na|b\n");
        assert_eq!(
            t.to_markdown(),
            "| name | req/s |\n| :--- | ---: |\n| validate | 12,000 |\n| a\\|b |  |\n"
        );
    }

    #[test]
    fn the_markdown_block_and_error_lists() {
        assert_eq!(
            markdown_block("T", "bench x", "m", "s", "| a |\n"),
            "\n--- Markdown for BENCHMARKS.md ---\n#### T\n\nCommand: `bench x`\n\n\
             Machine: m. s.\n\n| a |\n--- end ---\n"
        );
        assert_eq!(errors_text(&[]), "");
        assert_eq!(errors_markdown(&[]), "");
        let e = vec!["create: 3 × `500`".to_owned()];
        assert_eq!(errors_text(&e), "\nerrors:\n  create: 3 × `500`\n");
        assert_eq!(errors_markdown(&e), "\nErrors:\n\n- create: 3 × '500'\n");
    }
}
