//! The notes under the S3 tables: the machine's load, and for each
//! workload where the time went (the CPU the client and the Ceph daemons
//! used, how many of the machine's CPUs that kept busy, and boto3 held to
//! the S3 plugin's concurrency), with what would have to change in the
//! plugin or the host where a target was missed.

use super::Sizes;
use super::proxy::Served;
use super::report::{BIG_MIN_VS_BOTO3, Measured, SMALL_MIN_VS_MLFLOW, TTFB_MAX_MS};
use super::transfer::{ARCA, LIKE_ARCA, PYTHON, Timed};
use crate::bench::measure::median;
use crate::bench::serve_report::{rate, times};

/// How many times faster Arca's median is than contender `i`'s.
fn ratio(t: &[Timed], i: usize) -> f64 {
    t[i].median() / t[ARCA].median()
}

/// The CPUs a run kept busy on average: client and Ceph CPU over wall time.
fn busy(t: &Timed) -> f64 {
    (t.cpu_median() + t.server_cpu_median()) / t.median()
}

/// `arca 1.46 + 6.88 s, boto3 …`: client + Ceph CPU seconds per contender.
fn cpu(t: &[Timed], names: &[&str]) -> String {
    let parts: Vec<String> = t
        .iter()
        .zip(names)
        .map(|(tm, n)| format!("{n} {:.2} + {:.2} s", tm.cpu_median(), tm.server_cpu_median()))
        .collect();
    parts.join(", ")
}

fn verdict(ok: bool, target: String) -> String {
    if ok {
        format!("meets {target}")
    } else {
        format!("misses {target}")
    }
}

/// The notes, as Markdown list items; `cpus` is the machine's CPU count.
pub fn notes(sizes: Sizes, cpus: usize, m: &Measured) -> String {
    let mut out = vec![format!(
        "- Load average (1, 5, 15 min) when the run started: {}; when it ended: {}. The clients, radosgw and \
         its OSD all share this machine's {cpus} CPUs, so a client's own CPU time is time the server does not get.",
        m.load[0], m.load[1]
    )];
    for (dir, t) in [("upload", &m.big.up), ("download", &m.big.down)] {
        out.extend(big_note(sizes, cpus, dir, t));
    }
    let files = sizes.files as f64;
    for (dir, t) in [("upload", &m.small.up), ("download", &m.small.down)] {
        let r = ratio(t, PYTHON);
        out.push(format!(
            "- Small files, {dir}: `arca cp -r` at {} of MLflow ({}), {:.1} ms per file against {:.1}. CPU \
             seconds per run, client + Ceph: {}.",
            times(r),
            verdict(
                r >= SMALL_MIN_VS_MLFLOW,
                format!("the target of {SMALL_MIN_VS_MLFLOW:.0}×")
            ),
            t[ARCA].median() / files * 1e3,
            t[PYTHON].median() / files * 1e3,
            cpu(t, &["arca", "MLflow"]),
        ));
    }
    let own = |t: &Timed| 100.0 * t.cpu_median() / t.median();
    out.push(format!(
        "  MLflow's `log_artifacts` uploads one file after the other, and its `download_artifacts` lists the \
         prefix, then downloads on 4 threads; its own CPU time was {:.0}% and {:.0}% of its wall time. \
         `arca cp -r` keeps 8 transfers going both ways (`-j`) with its own CPU at {:.0}% and {:.0}% of its \
         wall time, so what is left is radosgw's cost per request.",
        own(&m.small.up[PYTHON]),
        own(&m.small.down[PYTHON]),
        own(&m.small.up[ARCA]),
        own(&m.small.down[ARCA]),
    ));
    if let [arca, mlflow, ..] = &m.proxied[..] {
        out.push(proxy_note(sizes, arca, mlflow));
    }
    out.join("\n")
}

/// The notes on the large file in one direction.
fn big_note(sizes: Sizes, cpus: usize, dir: &str, t: &[Timed]) -> Vec<String> {
    let mib = sizes.big_mib as f64;
    let upload = dir == "upload";
    let r = ratio(t, PYTHON);
    let held = if upload { "3 threads" } else { "1 thread" };
    let Some(like) = t.get(LIKE_ARCA) else {
        return Vec::new();
    };
    let mut out = vec![format!(
        "- {size} {dir}: `arca cp` at {} of boto3 ({}): {} MiB/s against {} for boto3 with its 10 threads and \
         {} with {held}. CPU seconds per run, client + Ceph: {}; on average that kept {:.1}, {:.1} and {:.1} of \
         the {cpus} CPUs busy.",
        times(r),
        verdict(r >= BIG_MIN_VS_BOTO3, format!("the target of {BIG_MIN_VS_BOTO3:.1}×")),
        rate(mib / t[ARCA].median()),
        rate(mib / t[PYTHON].median()),
        rate(mib / like.median()),
        cpu(t, &["arca", "boto3", &format!("boto3 with {held}")]),
        busy(&t[ARCA]),
        busy(&t[PYTHON]),
        busy(like),
        size = sizes.big_shown(),
    )];
    if r >= BIG_MIN_VS_BOTO3 {
        return out;
    }
    if !upload {
        out.push(
            "  Where the time goes: the S3 plugin already reads a large object as up to 8 concurrent 8 MiB \
             ranged `GET`s (`plugins/s3/src/parts.rs`); compare the CPU columns to see whether the client or the \
             server is the limit."
                .to_owned(),
        );
        return out;
    }
    let floor = (t[ARCA].cpu_median() + t.iter().map(Timed::server_cpu_median).fold(f64::MAX, f64::min)) / cpus as f64;
    let need = t[PYTHON].median() / BIG_MIN_VS_BOTO3;
    let mut why = String::from("  Where the time goes: ");
    // Within 10% counts as "about as fast": the runs are that noisy.
    let held_vs_full = like.median() / t[PYTHON].median();
    why.push_str(&format!(
        "the plugin's writer keeps up to 8 parts of 8 MiB in flight (a 64 MiB budget in \
         `plugins/s3/src/writer.rs`), boto3 10 threads, and boto3 held to 3 threads {}. ",
        if held_vs_full <= 1.1 {
            "is about as fast as with 10, so the client's concurrency is not what is missing"
        } else {
            "is slower than with 10, so concurrency still counts here"
        }
    ));
    if floor > need {
        why.push_str(&format!(
            "Even so, the target is out of reach on this machine: it asks for {need:.2} s, but the CPU work of the \
             upload, {:.2} s in `arca cp` and at least {:.2} s in radosgw and the OSD, takes {floor:.2} s on {cpus} \
             CPUs with every one of them busy throughout. Most of it is radosgw's, so only making each byte cheaper \
             for the server, or a server with CPUs of its own, can get there; on HTTPS, unsigned payloads with a \
             checksum, as boto3 sends them there, would at least spare both sides the SHA-256 of the body.",
            t[ARCA].cpu_median(),
            floor * cpus as f64 - t[ARCA].cpu_median(),
        ));
    } else {
        why.push_str(&format!(
            "With every CPU busy, the same CPU work would take {floor:.2} s, within the {need:.2} s the target asks \
             for: what stands between is time spent waiting, which more parts in flight and reading ahead would \
             fill.",
        ));
    }
    out.push(why);
    out
}

fn proxy_note(sizes: Sizes, arca: &Served, mlflow: &Served) -> String {
    let ms = |v: &[f64]| median(v) * 1e3;
    let ok = ms(&arca.small_ttfb) <= TTFB_MAX_MS && ms(&arca.big_ttfb) <= TTFB_MAX_MS;
    format!(
        "- Proxied GET: `arca serve` {} (first byte after {:.1} ms for 64 KiB and {:.1} ms for {}): it answers \
         once a `HEAD` and the `GET`'s response headers have come back from S3, and streams the body through. \
         `mlflow server` downloads the whole object into a temporary directory before the first byte goes out, \
         so its first byte comes later the larger the file ({:.0} ms for 64 KiB, {:.0} ms for {}).",
        verdict(ok, format!("the target of {TTFB_MAX_MS:.0} ms")),
        ms(&arca.small_ttfb),
        ms(&arca.big_ttfb),
        sizes.big_shown(),
        ms(&mlflow.small_ttfb),
        ms(&mlflow.big_ttfb),
        sizes.big_shown(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_cpus_are_cpu_over_wall() {
        let t = Timed {
            secs: vec![2.0],
            cpu: vec![1.0],
            server_cpu: vec![2.0],
            ..Timed::default()
        };
        assert_eq!(busy(&t), 1.5);
        assert_eq!(cpu(&[t], &["arca"]), "arca 1.00 + 2.00 s");
    }
}
