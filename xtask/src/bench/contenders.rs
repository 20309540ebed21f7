//! The contenders of `cargo xtask bench server`, started side by side, each
//! in `$WORK/server/<name>/` (logs, configuration, working directory) with
//! its artifacts in `$WORK/server/<name>/dest`:
//!
//! - `arca serve` (release), on the local destination with the default
//!   plugin configuration (which fsyncs every upload), and again with
//!   `fsync = false`, the durability the others give;
//! - `mlflow server --artifacts-only` from the test venv (PyPI), as
//!   deployed by default (uvicorn, 4 workers);
//! - nginx serving and accepting the same files (`dav_methods PUT`,
//!   `autoindex_format json`): what the machine can do over HTTP.

use super::Ctx;
use super::proc::{self, Output};
use super::servers::{self, Api, Server, mkdir};
use crate::project::{self, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The contenders, by index into what [`start`] returns.
pub const ARCA: usize = 0;
pub const ARCA_NOFSYNC: usize = 1;
pub const MLFLOW: usize = 2;
pub const NGINX: usize = 3;

/// How long a server may take to answer its first request.
const START_LIMIT: Duration = Duration::from_secs(30);
/// MLflow imports much of its Python stack in four worker processes.
pub const MLFLOW_START_LIMIT: Duration = Duration::from_secs(120);
/// How long to wait for a started server to go idle.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);
/// The `location` nginx serves the files from (`DEST` is its directory).
pub const NGINX_LOCATION: &str = "\
location / {
    root DEST;
    dav_methods PUT;
    create_full_put_path on;
    autoindex on;
    autoindex_format json;
}";

/// Starts every contender in `root`, in the order [`ARCA`] … [`NGINX`],
/// waits until each answers and has gone idle. `mlflow` is the venv's
/// `mlflow` program. Dropping the servers stops them.
pub fn start(ctx: &Ctx, root: &Path, mlflow: &Path) -> Result<Vec<Server>> {
    let nginx = nginx_program()?;
    // MLflow first: it takes the longest to start.
    let since = Instant::now();
    let mut ml = start_mlflow(root, mlflow)?;
    let arca = start_arca(ctx, root, "arca serve", "arca", &ctx.manifest)?;
    let nofsync = start_arca(ctx, root, "arca serve, fsync=false", "arca-nofsync", &ctx.nofsync)?;
    let nginx = start_nginx(ctx, root, &nginx)?;
    ml.wait_ready("/health", since, MLFLOW_START_LIMIT)?;
    let mut all = vec![arca, nofsync, ml, nginx];
    for s in &mut all {
        if !s.settle(SETTLE_LIMIT)? {
            eprintln!(
                "warning: {} still busy {} s after it started",
                s.label,
                SETTLE_LIMIT.as_secs()
            );
        }
    }
    Ok(all)
}

fn start_arca(ctx: &Ctx, root: &Path, label: &'static str, name: &str, manifest: &Path) -> Result<Server> {
    let dir = mkdir(&root.join(name))?;
    let dest = mkdir(&dir.join("dest"))?;
    start_arca_on(
        ctx,
        label,
        dir,
        dest.clone(),
        serve_args(dest.into(), &[]),
        manifest,
        &[],
    )
}

/// The arguments of `arca serve` after `serve`: the destination, then `extra`.
pub fn serve_args(destination: OsString, extra: &[&str]) -> Vec<OsString> {
    let mut args = vec!["--artifacts-destination".into(), destination];
    args.extend(extra.iter().map(OsString::from));
    args
}

/// `arca serve` with `serve` (see [`serve_args`]: the destination, a path or
/// a store URI, and options), in `dir`.
pub fn start_arca_on(
    ctx: &Ctx,
    label: &'static str,
    dir: std::path::PathBuf,
    dest: std::path::PathBuf,
    serve: Vec<OsString>,
    manifest: &Path,
    env: &[(&str, String)],
) -> Result<Server> {
    let mut command: Vec<OsString> = vec![
        ctx.release.join(project::executable_file("arca")).into(),
        "--plugins".into(),
        manifest.into(),
        "serve".into(),
    ];
    command.extend(serve);
    command.extend(["--port".into(), "0".into()]);
    let mut server = Server::spawn_with_env(label, Api::Mlflow, dest, dir, command, false, env)?;
    server.wait_for_arca(START_LIMIT)?;
    Ok(server)
}

/// Starts MLflow; the caller waits for it, which takes a while.
fn start_mlflow(root: &Path, mlflow: &Path) -> Result<Server> {
    let dir = mkdir(&root.join("mlflow"))?;
    let dest = mkdir(&dir.join("dest"))?;
    start_mlflow_on(mlflow, dir, dest.clone(), dest.into(), &[])
}

/// `mlflow server --artifacts-only` on `destination`, in `dir`; the caller
/// waits for it (`wait_ready("/health", …)`).
pub fn start_mlflow_on(
    mlflow: &Path,
    dir: std::path::PathBuf,
    dest: std::path::PathBuf,
    destination: OsString,
    env: &[(&str, String)],
) -> Result<Server> {
    let port = crate::servers::free_port()?;
    let command: Vec<OsString> = vec![
        mlflow.into(),
        "server".into(),
        "--artifacts-only".into(),
        "--artifacts-destination".into(),
        destination,
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string().into(),
    ];
    // Its main process leaves its workers running on SIGTERM: wrapped.
    let mut server = Server::spawn_with_env("mlflow server", Api::Mlflow, dest, dir, command, true, env)?;
    server.origin = format!("http://127.0.0.1:{port}");
    Ok(server)
}

/// nginx on `$PATH`, or where Debian puts it (`/usr/sbin` is not on every
/// user's `$PATH`).
pub fn nginx_program() -> Result<std::path::PathBuf> {
    let debian = Path::new("/usr/sbin/nginx");
    match proc::find("nginx") {
        Some(p) => Ok(p),
        None if debian.is_file() => Ok(debian.to_path_buf()),
        None => Err("`nginx` is not on PATH; the server benchmark runs it as the reference \
             (on Debian: apt-get install nginx-light)"
            .to_owned()),
    }
}

fn start_nginx(ctx: &Ctx, root: &Path, nginx: &Path) -> Result<Server> {
    let dir = mkdir(&root.join("nginx"))?;
    let dest = mkdir(&dir.join("dest"))?;
    mkdir(&dir.join("tmp"))?;
    let port = crate::servers::free_port()?;
    let conf = dir.join("nginx.conf");
    project::write(&conf, &nginx_conf(&dir, &dest, port, servers::running_as_root()))?;
    let prefix = format!("{}/", dir.display());
    let args = |test: bool| -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![nginx.into()];
        if test {
            v.push("-t".into());
        }
        v.extend([
            "-p".into(),
            prefix.clone().into(),
            "-e".into(),
            dir.join("error.log").into(),
        ]);
        v.extend(["-c".into(), conf.clone().into()]);
        v
    };
    let (test, command) = (args(true), args(false));
    let mut cmd = Command::new(&test[0]);
    cmd.args(&test[1..]);
    if let Err(e) = proc::run(&mut cmd, &Output::Logged(&ctx.logs)) {
        if e.contains("dav_methods") {
            return Err(format!(
                "this nginx ({}) was built without the WebDAV module, which the benchmark needs for PUT \
                 (on Debian, nginx-light and nginx have it: apt-get install nginx-light): {e}",
                nginx.display()
            ));
        }
        return Err(e);
    }
    let mut server = Server::spawn("nginx", Api::Files, dest, dir, command, false)?;
    server.origin = format!("http://127.0.0.1:{port}");
    server.wait_ready("/", Instant::now(), START_LIMIT)?;
    Ok(server)
}

/// A minimal nginx configuration: everything it writes stays in `dir`; PUT
/// creates files (and their directories) under `dest`, GET serves them,
/// and a directory's URL lists it as JSON. Workers run as root when the
/// master does (they would otherwise be `nobody`, who cannot write `dest`).
fn nginx_conf(dir: &Path, dest: &Path, port: u16, as_root: bool) -> String {
    let q = |p: &Path| {
        format!(
            "\"{}\"",
            p.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
        )
    };
    let temp = |name: &str| q(&dir.join("tmp").join(name));
    let location = NGINX_LOCATION.replace("DEST", &q(dest)).replace('\n', "\n        ");
    format!(
        "\
# Written by `cargo xtask bench server`.
daemon off;
master_process on;
worker_processes 2;
{user}pid {pid};
error_log {error};

events {{
    worker_connections 1024;
}}

http {{
    access_log {access};
    client_body_temp_path {body};
    proxy_temp_path {proxy};
    fastcgi_temp_path {fastcgi};
    uwsgi_temp_path {uwsgi};
    scgi_temp_path {scgi};
    client_max_body_size 0;
    sendfile on;

    server {{
        listen 127.0.0.1:{port};
        {location}
    }}
}}
",
        user = if as_root { "user root;\n" } else { "" },
        pid = q(&dir.join("nginx.pid")),
        error = q(&dir.join("error.log")),
        access = q(&dir.join("access.log")),
        body = temp("client_body"),
        proxy = temp("proxy"),
        fastcgi = temp("fastcgi"),
        uwsgi = temp("uwsgi"),
        scgi = temp("scgi"),
    )
}

/// The versions of the programs measured, as rows for the machine table.
pub fn versions(ctx: &Ctx, mlflow: &Path) -> Result<Vec<(String, String)>> {
    let first_line = |cmd: &mut Command, stderr: bool| -> Result<String> {
        proc::run(cmd, &Output::Logged(&ctx.logs))?;
        let file = ctx.logs.join(if stderr { "stderr.log" } else { "stdout.log" });
        let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        Ok(text.lines().next().unwrap_or_default().trim().to_owned())
    };
    let nginx = nginx_program()?;
    // `mlflow, version 3.17.2`, `nginx version: nginx/1.22.1`, `curl 7.88.1 (x86_64…) libcurl/…`.
    let mlflow = first_line(Command::new(mlflow).arg("--version"), false)?;
    let nginx = first_line(Command::new(&nginx).arg("-v"), true)?;
    let curl = first_line(Command::new("curl").arg("--version"), false)?;
    let word = |line: &str, i: usize| line.split_whitespace().nth(i).unwrap_or(line).to_owned();
    Ok(vec![
        ("MLflow".to_owned(), format!("{} (PyPI)", word(&mlflow, 2))),
        (
            "nginx".to_owned(),
            nginx.trim_start_matches("nginx version: ").to_owned(),
        ),
        ("curl".to_owned(), word(&curl, 1)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nginx_config_keeps_everything_in_its_directory() {
        let conf = nginx_conf(Path::new("/w/ngx"), Path::new("/w/ngx/dest"), 8080, true);
        assert!(
            conf.contains("listen 127.0.0.1:8080;") && conf.contains("user root;"),
            "{conf}"
        );
        assert!(
            conf.contains("root \"/w/ngx/dest\";") && conf.contains("dav_methods PUT;"),
            "{conf}"
        );
        assert!(
            conf.contains("client_body_temp_path \"/w/ngx/tmp/client_body\";"),
            "{conf}"
        );
        let paths = conf.matches('"').count() / 2;
        let inside = conf.matches("\"/w/ngx/").count();
        assert_eq!(paths, inside, "a path outside the work directory: {conf}");
        assert!(!nginx_conf(Path::new("/w"), Path::new("/w/d"), 1, false).contains("user root"));
    }
}
