//! # arca-plugin-hdfs: `hdfs://` and `viewfs://` URIs
//!
//! The Arca storage plugin for HDFS, on [`hdfs_native`]: a pure-Rust client
//! of the NameNode RPC and DataNode transfer protocols, with HA name
//! services, ViewFS mount tables and Kerberos; no JVM and no `libhdfs`. It
//! is loaded like every other backend, through the manifest; the `rlib`
//! form exists for unit tests.
//!
//! - **Writes go to a hidden temporary file beside the target**
//!   (`.arca-….tmp`, never listed), created with its parent directories,
//!   and `finish` closes it (the NameNode completes its last block) and
//!   renames it into place: nothing partial is ever visible under the final
//!   name. `abort`, a failure or dropping the writer deletes it.
//! - **Reads stream** block by block from the DataNodes; ranges start where
//!   they ask, without reading what comes before.
//! - **Listings** carry sizes and modification times; a file or a missing
//!   path lists as empty.
//! - **Deletes are recursive and remove the directory itself** (MLflow's
//!   HDFS repository empties a directory but keeps it); a missing path is
//!   success.
//! - **Errors are classified** from the NameNode's Java exception class:
//!   safe mode, a standby NameNode, a retriable or lease conflict are
//!   temporary (the host retries them, the plugin never does); permission
//!   denied, missing files and Kerberos failures are not.
//!
//! ## URIs
//!
//! | URI | NameNode |
//! | --- | --- |
//! | `hdfs://host:port/path` | that NameNode |
//! | `hdfs://nameservice/path` | an HA name service, resolved through the configuration in `HADOOP_CONF_DIR` (`dfs.nameservices`, `dfs.ha.namenodes.*`, …) |
//! | `hdfs:///path`, `hdfs:/path` | `fs.defaultFS` of that configuration |
//! | `viewfs://cluster/path` | the mount table `fs.viewfs.mounttable.cluster.*` of that configuration |
//!
//! The path is the store root. As in MLflow, the user is `HADOOP_USER_NAME`
//! (else the local user) under simple authentication.
//!
//! ## Configuration
//!
//! | Key | Environment variable | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `kerberos_ticket_cache` | `MLFLOW_KERBEROS_TICKET_CACHE` | `KRB5CCNAME`, else the system default | The Kerberos credential cache (`FILE:/tmp/krb5cc_1000`, or a path). |
//! | `kerberos_user` | `MLFLOW_KERBEROS_USER` | the cache's principal | With a ticket cache: the principal to use from it (without it, the default principal of a `FILE:` cache is read from the file). Without a ticket cache: the user to act as (simple authentication). |
//! | `extra_conf` | `MLFLOW_PYARROW_EXTRA_CONF` | `dfs.client.failover.max.attempts=1` | Client settings as `key=value,key2=value2`, over those of `HADOOP_CONF_DIR` (e.g. `dfs.client.use.datanode.hostname=true`). The plugin sets `dfs.client.failover.max.attempts=1` over the configuration directory's value (one pass over the NameNodes, then the failure is reported, for the host to retry); name that key here to change it. |
//! | `hadoop_conf_dir` | `HADOOP_CONF_DIR` | `$HADOOP_HOME/etc/hadoop` | Where `core-site.xml` and `hdfs-site.xml` are read from. |
//! | `user` | `HADOOP_USER_NAME` | the local user | The user to act as under simple authentication (`kerberos_user` wins). |
//! | `timeout` | `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT` | none | Seconds an operation or a chunk of a transfer may take without progress (an idle timeout). A timeout is temporary, retried by the host. |
//!
//! Kerberos needs `libgssapi_krb5.so.2` at run time (Debian's
//! `libgssapi-krb5-2`), loaded only when the cluster asks for Kerberos.
//! Any other configuration key is refused by name.

mod ccache;
mod config;
mod error;
mod lister;
mod reader;
mod store;
mod writer;

#[cfg(test)]
mod tests;

pub use config::HdfsConfig;
pub use reader::HdfsReader;
pub use store::HdfsStore;
pub use writer::HdfsWriter;

use arca_core::{Capabilities, Config, Plugin, Result, Runtime};

/// The URI schemes this plugin serves.
pub const SCHEMES: &[&str] = &["hdfs", "viewfs"];

/// The HDFS plugin.
#[derive(Debug)]
pub struct HdfsPlugin;

impl Plugin for HdfsPlugin {
    const NAME: &'static str = "hdfs";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = SCHEMES;
    // Real directories; no presigned transfers.
    const CAPABILITIES: Capabilities = Capabilities {
        multipart: false,
        presigned_read: false,
        ..Capabilities::FILESYSTEM
    };
    const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };
    type Store = HdfsStore;

    async fn open(uri: String, config: Config) -> Result<HdfsStore> {
        HdfsStore::open(HdfsConfig::parse(&uri, config)?)
    }
}

arca_core::export_plugin!(HdfsPlugin);
