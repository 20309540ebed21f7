//! The `arca` command line.

mod cp;
mod gc;
mod localfs;
mod ops;

use arca_core::{Error, ErrorKind};
use arca_host::Registry;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Arca: an MLflow-compatible artifact store.
///
/// URIs name a store and a path inside it: `file:///data/mlruns/0/run1`,
/// `s3://bucket/prefix/file`, … A plain path (`./mlruns/x`) is a local path.
/// Plugins are found through a manifest: `--plugins FILE`, else
/// `$ARCA_PLUGINS`, else `plugins.toml` beside the `arca` executable.
#[derive(Debug, Parser)]
#[command(name = "arca", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The plugin manifest to use.
    #[arg(long, global = true, value_name = "FILE")]
    pub plugins: Option<PathBuf>,
    /// Show no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a directory (or describe a file).
    Ls(LsArgs),
    /// Describe a file or directory.
    Stat(StatArgs),
    /// Write a file's content to standard output.
    Cat(CatArgs),
    /// Copy files: local ↔ store, or store ↔ store.
    ///
    /// A plain path is local; anything with a scheme goes through its plugin.
    /// With -r, the contents of SRC are copied into DST (like MLflow's
    /// log_artifacts): `arca cp -r ./outputs s3://b/run1/artifacts`.
    /// A single file copied to a DST ending in `/` or naming an existing
    /// directory lands inside it under its own name.
    Cp(CpArgs),
    /// Remove a file, or a directory with -r.
    Rm(RmArgs),
    /// Permanently remove what MLflow marked deleted: runs, logged models and
    /// experiments, with their artifacts.
    ///
    /// Reads MLflow's backend store directly (SQLite, PostgreSQL, MySQL, or a
    /// file store directory); no tracking server is needed. Only entities in
    /// the deleted lifecycle stage are touched, and with --older-than only
    /// those deleted before the cut-off. Without ids, everything deleted is
    /// collected; with --run-ids, --experiment-ids or --logged-model-ids,
    /// only what they name (and the deleted runs of the experiments named).
    /// Each entity's artifacts go first, then its metadata, whole entities
    /// per transaction; a gc that stops half-way is finished by the next one.
    Gc(GcArgs),
    /// Inspect the installed plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Serve MLflow's artifact proxy API (a drop-in for `mlflow server --artifacts-only`).
    ///
    /// Point MLflow clients at it as the tracking URI (artifacts only), or a
    /// tracking server's `--default-artifact-root` at
    /// `http://HOST:PORT/api/2.0/mlflow-artifacts/artifacts`.
    Serve(ServeArgs),
    /// Hash a password (argon2id) or a token (SHA-256) read from standard
    /// input, for `arca serve --auth-file`.
    HashPassword(HashArgs),
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Hash a Bearer token instead of a password.
    #[arg(long)]
    pub token: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where artifacts are stored: a path or a store URI.
    #[arg(
        long,
        env = "MLFLOW_ARTIFACTS_DESTINATION",
        default_value = "./mlartifacts",
        value_name = "URI"
    )]
    pub artifacts_destination: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Refuse uploads larger than this many bytes.
    #[arg(long, value_name = "BYTES")]
    pub max_upload_size: Option<u64>,
    /// The URL clients reach this server at, used in the signed part-upload
    /// and download URLs it hands out (default: http:// + the request's Host).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Remove staged multipart uploads that were not completed after this many seconds.
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    pub mpu_stale_after: u64,
    /// Require credentials: a TOML file of users (Basic) and tokens (Bearer)
    /// with read or read-write permission (see `arca hash-password`).
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Refuse every upload, delete and multipart call.
    #[arg(long)]
    pub read_only: bool,
    /// After SIGTERM, seconds that in-flight transfers get to finish.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub shutdown_timeout: u64,
    /// Tell clients (server-info) to upload large files in parts: the
    /// default where the destination presigns part uploads (S3, Azure, GCS:
    /// the parts go straight to the store). Elsewhere one streamed PUT is
    /// faster; turn parts on there behind a proxy that limits request sizes.
    #[arg(long, overrides_with = "no_multipart_uploads")]
    pub multipart_uploads: bool,
    /// Tell clients to send large files in one request.
    #[arg(long, overrides_with = "multipart_uploads")]
    pub no_multipart_uploads: bool,
    /// Tell clients (server-info) to download large files in signed ranged
    /// chunks. Off by default on every destination: the MLflow client reads
    /// each chunk whole into memory, and one streamed GET measured several
    /// times faster, from S3 as from a local disk. Turn it on behind a proxy
    /// that limits response sizes or times.
    #[arg(long, overrides_with = "no_multipart_downloads")]
    pub multipart_downloads: bool,
    /// Tell clients to download large files in one request.
    #[arg(long, overrides_with = "multipart_downloads")]
    pub no_multipart_downloads: bool,
    /// Lifetime of signed download URLs, in seconds.
    #[arg(
        long,
        env = "MLFLOW_PRESIGNED_DOWNLOAD_URL_TTL_SECONDS",
        default_value_t = 300,
        value_name = "SECONDS"
    )]
    pub download_url_ttl: u64,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// What to list.
    pub uri: String,
    /// Print JSON (MLflow's list format: path, is_dir, file_size).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatArgs {
    /// What to describe.
    pub uri: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    /// The file to print.
    pub uri: String,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Source: a local path or a store URI.
    pub src: String,
    /// Destination: a local path or a store URI.
    pub dst: String,
    /// Copy a directory's contents, recursively.
    #[arg(short, long)]
    pub recursive: bool,
    /// Transfers to run at once in a recursive copy.
    #[arg(short = 'j', long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// MLflow's backend store: sqlite:///mlflow.db, postgresql://user:pass@host/db,
    /// mysql://user:pass@host/db, or a file store's directory (./mlruns).
    #[arg(long, env = "MLFLOW_BACKEND_STORE_URI", value_name = "URI")]
    pub backend_store_uri: String,
    /// Only what was deleted at least this long ago: days, hours, minutes,
    /// seconds, e.g. 30d, 12h, 2d8h5m20s, 1.5d.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Only these runs (comma-separated ids); each must be deleted.
    #[arg(long, value_name = "IDS")]
    pub run_ids: Option<String>,
    /// Only these experiments and their deleted runs (comma-separated ids);
    /// each must be deleted.
    #[arg(long, value_name = "IDS")]
    pub experiment_ids: Option<String>,
    /// Only these logged models (comma-separated ids); each must be deleted.
    #[arg(long, value_name = "IDS")]
    pub logged_model_ids: Option<String>,
    /// Where an MLflow artifact proxy (`mlflow server`, `arca serve`) stores
    /// artifacts: runs logged through it (mlflow-artifacts:/…, http(s)://…
    /// /api/2.0/mlflow-artifacts/artifacts/…) are found there.
    #[arg(long, env = "MLFLOW_ARTIFACTS_DESTINATION", value_name = "URI")]
    pub artifacts_destination: Option<String>,
    /// List what would be removed, with file counts and sizes; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the list (with --dry-run) and the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Entities collected at once.
    #[arg(short = 'j', long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// What to remove.
    pub uri: String,
    /// Remove a directory and everything under it.
    #[arg(short, long)]
    pub recursive: bool,
    /// Succeed even if nothing exists there.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List the manifest's plugins: schemes, library, and whether each loads.
    List,
}

/// Why the command failed: bad usage (exit 2) or a failed operation (exit 1).
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Failed(Vec<Error>),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Failed(vec![e])
    }
}

impl From<arca_core::PathError> for Failure {
    fn from(e: arca_core::PathError) -> Self {
        Failure::Usage(e.to_string())
    }
}

pub fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

pub type CliResult<T = ()> = std::result::Result<T, Failure>;

fn registry(cli: &Cli) -> CliResult<Registry> {
    Registry::discover(cli.plugins.as_deref()).map_err(|e| {
        let hint = "build with `cargo xtask build`, or point --plugins / ARCA_PLUGINS at a plugins.toml";
        Failure::Failed(vec![Error::new(e.kind, format!("{} ({hint})", e.message))])
    })
}

fn hash_secret(a: &HashArgs) -> CliResult {
    let mut secret = String::new();
    std::io::stdin()
        .read_line(&mut secret)
        .map_err(|e| Failure::from(Error::invalid_input(format!("cannot read standard input: {e}"))))?;
    let secret = secret.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(usage("nothing to hash: write the password or token on standard input"));
    }
    let out = if a.token {
        arca_host::server::hash_token(secret)
    } else {
        arca_host::server::hash_password(secret).map_err(|e| Failure::from(Error::unexpected(e)))?
    };
    println!("{out}");
    Ok(())
}

pub async fn run(cli: Cli) -> CliResult {
    // The one command that needs no plugins.
    if let Command::HashPassword(a) = &cli.command {
        return hash_secret(a);
    }
    let reg = registry(&cli)?;
    let progress = !cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    match &cli.command {
        Command::Ls(a) => ops::ls(&reg, a).await,
        Command::Stat(a) => ops::stat(&reg, a).await,
        Command::Cat(a) => ops::cat(&reg, a).await,
        Command::Rm(a) => ops::rm(&reg, a).await,
        Command::Plugins(PluginsCommand::List) => ops::plugins_list(&reg),
        Command::Cp(a) => cp::cp(&reg, a, progress).await,
        Command::Gc(a) => {
            gc::check(a)?;
            gc::gc(&reg, a, progress).await
        }
        Command::HashPassword(a) => hash_secret(a),
        Command::Serve(a) => {
            let opts = arca_host::server::ServeOptions {
                destination: a.artifacts_destination.clone(),
                host: a.host.clone(),
                port: a.port,
                max_upload_size: a.max_upload_size,
                public_url: a.public_url.clone(),
                mpu_stale_after: a.mpu_stale_after,
                download_url_ttl: a.download_url_ttl,
                shutdown_timeout: std::time::Duration::from_secs(a.shutdown_timeout),
                auth_file: a.auth_file.clone(),
                read_only: a.read_only,
                multipart_uploads: flag(a.multipart_uploads, a.no_multipart_uploads),
                multipart_downloads: flag(a.multipart_downloads, a.no_multipart_downloads),
            };
            Ok(arca_host::server::serve(std::sync::Arc::new(reg), opts).await?)
        }
    }
}

/// A `--x` / `--no-x` pair: `None` when neither was given.
fn flag(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// Whether an error is a broken pipe on standard output (`arca cat x | head`).
pub fn is_broken_pipe(e: &Error) -> bool {
    e.kind == ErrorKind::UNEXPECTED && e.message.contains("Broken pipe")
}
