//! The report's pieces: the machine the numbers came from, aligned Markdown
//! tables (printed as they are and written to `BENCHMARKS.md` by
//! [`super::document`]), and the date.

use super::proc;
use crate::project::Result;
use std::path::Path;
use std::process::Command;

/// The machine a run measured.
#[derive(Debug)]
pub struct Machine {
    pub cpus: String,
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub filesystem: String,
}

impl Machine {
    /// Describes this machine; `work` is the benchmark's directory, whose
    /// filesystem is reported, and `logs` a scratch directory.
    pub fn probe(work: &Path, logs: &Path) -> Result<Self> {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = field(&cpuinfo, "model name").unwrap_or_else(|| "unknown model".to_owned());
        let count = std::thread::available_parallelism().map_or(0, |n| n.get());
        let meminfo =
            std::fs::read_to_string("/proc/meminfo").map_err(|e| format!("cannot read /proc/meminfo: {e}"))?;
        let kib: f64 = field(&meminfo, "MemTotal")
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
            .ok_or("/proc/meminfo has no MemTotal")?;
        let line = |cmd: &mut Command| proc::stdout(cmd, logs).map(|s| s.trim().to_owned());
        Ok(Self {
            cpus: format!("{count} × {model}"),
            memory: format!("{:.1} GiB", kib / (1024.0 * 1024.0)),
            kernel: line(Command::new("uname").arg("-r"))?,
            rustc: line(
                Command::new("rustc")
                    .arg("--version")
                    .current_dir(crate::project::root()),
            )?,
            filesystem: filesystem(work),
        })
    }
}

/// The type of the filesystem holding `path` (the longest mount point
/// above it in `/proc/self/mounts`), and for ext4 whether it has a journal:
/// without one, file creation behaves differently (see `measure.rs`).
fn filesystem(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let best = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, at, kind) = (f.next()?, f.next()?, f.next()?);
            // Mount points escape spaces as `\040`.
            let at = at.replace("\\040", " ");
            path.starts_with(&at).then_some((at.len(), dev, kind))
        })
        .max_by_key(|m| m.0);
    let Some((_, dev, kind)) = best else {
        return "unknown".to_owned();
    };
    let device = Path::new(dev).file_name().map(|n| n.to_string_lossy().into_owned());
    let journal = device
        .filter(|_| kind == "ext4")
        .and_then(|d| std::fs::read_to_string(format!("/sys/fs/ext4/{d}/journal_task")).ok());
    match journal.as_deref().map(str::trim) {
        Some("<none>") => format!("{kind} on {dev}, without a journal"),
        Some(_) => format!("{kind} on {dev}, with a journal"),
        None => format!("{kind} on {dev}"),
    }
}

/// The value of the first `key: value` line of a `/proc` file.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// One section of the report.
#[derive(Debug)]
pub struct Section {
    pub title: String,
    /// A paragraph above the table.
    pub intro: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// The exact commands behind the rows, as (label, command line).
    pub commands: Vec<(String, String)>,
}

impl Section {
    /// The section as Markdown: heading (level 3: a benchmark's part of the
    /// document is level 2), intro, table, commands.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### {}\n\n{}\n\n{}",
            self.title,
            self.intro,
            table(&self.headers, &self.rows)
        );
        if !self.commands.is_empty() {
            out.push_str("\n```text\n");
            let width = self.commands.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
            for (label, command) in &self.commands {
                out.push_str(&format!("{label:<width$}  {command}\n"));
            }
            out.push_str("```\n");
        }
        out
    }

    /// The section for a terminal: the title and the table.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.title, table(&self.headers, &self.rows))
    }
}

/// An aligned Markdown table: numbers (cells starting with a digit) are
/// right-aligned, text left-aligned.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let numeric: Vec<bool> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .any(|v| v.starts_with(|ch: char| ch.is_ascii_digit()))
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            let cells = rows.iter().filter_map(|r| r.get(c)).map(|v| v.chars().count());
            cells.chain([headers[c].chars().count(), 3]).max().unwrap_or(3)
        })
        .collect();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let pad = |c: usize, v: &str| {
        let w = widths[c];
        if numeric[c] {
            format!("{v:>w$}")
        } else {
            format!("{v:<w$}")
        }
    };
    let mut out = line(headers.iter().enumerate().map(|(c, h)| pad(c, h)).collect());
    out.push_str(&line(
        widths
            .iter()
            .zip(&numeric)
            .map(|(w, n)| {
                if *n {
                    format!("{}:", "-".repeat(w - 1))
                } else {
                    "-".repeat(*w)
                }
            })
            .collect(),
    ));
    for row in rows {
        out.push_str(&line(
            (0..headers.len())
                .map(|c| pad(c, row.get(c).map_or("", String::as_str)))
                .collect(),
        ));
    }
    out
}

/// `n` with thousands separators: `10,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The current time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(i64::try_from(secs).unwrap_or(0))
}

fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400 + 3_660), "2000-02-29 01:01 UTC");
    }

    #[test]
    fn tables_align_numbers_right() {
        let rows = vec![
            vec!["cp".to_owned(), "1.5".to_owned()],
            vec!["arca cp".to_owned(), "12.25".to_owned()],
        ];
        let t = table(&["Command", "s"], &rows);
        assert_eq!(
            t,
            "| Command |     s |\n| ------- | ----: |\n| cp      |   1.5 |\n| arca cp | 12.25 |\n"
        );
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn the_root_filesystem_is_found() {
        let fs = filesystem(Path::new("/"));
        assert!(fs != "unknown" && fs.contains(" on "), "{fs}");
    }

    #[test]
    fn proc_fields() {
        assert_eq!(field("MemTotal:  100 kB\nX: y", "MemTotal"), Some("100 kB".to_owned()));
        assert_eq!(field("a: b", "c"), None);
    }
}
