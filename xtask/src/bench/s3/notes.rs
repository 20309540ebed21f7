//! The notes under the S3 tables: the machine's load, and for each
//! workload where the time went (the CPU the client and the Ceph daemons
//! used, and boto3 held to the S3 plugin's concurrency), with what would
//! have to change in the plugin or the host where a target was missed.

use super::Bench;
use super::proxy::Served;
use super::report::{BIG_MIN_VS_BOTO3, Measured, SMALL_MIN_VS_MLFLOW, TTFB_MAX_MS};
use super::transfer::{ARCA, LIKE_ARCA, PYTHON, Timed};
use crate::bench::measure::median;
use crate::bench::serve_report::{rate, times};

/// How many times faster Arca's median is than contender `i`'s.
fn ratio(t: &[Timed], i: usize) -> f64 {
    t[i].median() / t[ARCA].median()
}

/// `arca … s, boto3 … s` for a CPU figure of each contender.
fn cpu(t: &[Timed], names: &[&str], f: fn(&Timed) -> f64) -> String {
    let parts: Vec<String> = t
        .iter()
        .zip(names)
        .map(|(tm, n)| format!("{n} {:.2} s", f(tm)))
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

pub fn notes(b: &Bench<'_>, m: &Measured) -> String {
    let size = b.sizes.big_shown();
    let mib = b.sizes.big_mib as f64;
    let mut out = vec![format!(
        "- Load average (1, 5, 15 min) when the run started: {}; when it ended: {}. Clients, radosgw and its \
         OSD all share this machine's CPUs, so every figure here is also a measure of how much CPU each client \
         leaves to the server.",
        m.load[0], m.load[1]
    )];
    let names = ["arca", "boto3", "boto3 held to arca's concurrency"];
    for (dir, t) in [("upload", &m.big.up), ("download", &m.big.down)] {
        let r = ratio(t, PYTHON);
        let like = t.get(LIKE_ARCA).map(|tm| mib / tm.median()).unwrap_or(0.0);
        let held = if dir == "upload" {
            "3 threads, as many parts as the plugin keeps in flight"
        } else {
            "1 thread"
        };
        out.push(format!(
            "- {size} {dir}: `arca cp` at {} of boto3 ({}). CPU per run (medians), client: {}; Ceph meanwhile: \
             {}. boto3 at {held} ran at {} MiB/s against `arca cp`'s {} and its own {} with 10.",
            times(r),
            verdict(r >= BIG_MIN_VS_BOTO3, format!("the target of {BIG_MIN_VS_BOTO3:.1}×")),
            cpu(t, &names, Timed::cpu_median),
            cpu(t, &names, Timed::server_cpu_median),
            rate(like),
            rate(mib / t[ARCA].median()),
            rate(mib / t[PYTHON].median()),
        ));
        if r >= BIG_MIN_VS_BOTO3 {
            continue;
        }
        out.push(if dir == "upload" {
            "  Where the time goes: the S3 plugin's writer sends 8 MiB parts like boto3 but keeps at most 3 in \
             flight (`MAX_IN_FLIGHT` in `plugins/s3/src/writer.rs`), and only starts the upload once the first \
             part is buffered; boto3 keeps 10 parts going. What would change it: a larger limit (8–10, \
             configurable beside `MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE`), with the host reading the file ahead by \
             as many parts so the parts in flight never wait for the disk. Memory stays bounded by limit × part \
             size."
                .to_owned()
        } else {
            "  Where the time goes: the S3 plugin reads an object as one `GET` stream (`plugins/s3/src/reader.rs`) \
             and `arca cp` writes it in order, so one radosgw request does all the work, where boto3's \
             `download_file` fetches 8 MiB ranges on 10 threads and writes each at its offset. What would change \
             it: in the host's `cp` (so every plugin gains), split an object above a threshold into ranged \
             reads (the ABI already carries a `ByteRange`), run several at once and write each with positioned \
             writes into the temporary file before the rename; keep the single stream for small objects and \
             for `arca serve`, which must send the bytes in order."
                .to_owned()
        });
    }
    let files = b.sizes.files as f64;
    let names = ["arca", "MLflow"];
    for (dir, t) in [("upload", &m.small.up), ("download", &m.small.down)] {
        let r = ratio(t, PYTHON);
        out.push(format!(
            "- Small files, {dir}: `arca cp -r` at {} of MLflow ({}), {:.1} ms per file against {:.1}. CPU per \
             run, client: {}; Ceph meanwhile: {}.",
            times(r),
            verdict(
                r >= SMALL_MIN_VS_MLFLOW,
                format!("the target of {SMALL_MIN_VS_MLFLOW:.0}×")
            ),
            t[ARCA].median() / files * 1e3,
            t[PYTHON].median() / files * 1e3,
            cpu(t, &names, Timed::cpu_median),
            cpu(t, &names, Timed::server_cpu_median),
        ));
    }
    out.push(
        "  MLflow's `log_artifacts` uploads one file after the other, and its `download_artifacts` lists the \
         prefix, then downloads on 4 threads; `arca cp -r` keeps 8 transfers going both ways (`-j`). With the \
         client's own CPU small, the rest is radosgw's cost per request, which the same CPUs pay for every \
         contender."
            .to_owned(),
    );
    if let [arca, mlflow, ..] = &m.proxied[..] {
        out.push(proxy_note(b, arca, mlflow));
    }
    out.join("\n")
}

fn proxy_note(b: &Bench<'_>, arca: &Served, mlflow: &Served) -> String {
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
        b.sizes.big_shown(),
        ms(&mlflow.small_ttfb),
        ms(&mlflow.big_ttfb),
        b.sizes.big_shown(),
    )
}
