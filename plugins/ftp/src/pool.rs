//! A bounded pool of logged-in control connections: one per operation or
//! transfer in flight, at most `max_connections`, kept for the next one.
//! A connection that failed mid-command is dropped, never reused.

use crate::config::FtpConfig;
use crate::error::ftp_error;
use arca_core::{Error, Result};
use std::future::Future;
use std::sync::{Arc, Mutex};
use suppaftp::tokio::{AsyncRustlsStream, ImplAsyncFtpStream};
use suppaftp::types::FileType;
use suppaftp::{FtpResult, Mode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The connection type: plain FTP, or upgraded to TLS for `ftps://`.
pub(crate) type Ftp = ImplAsyncFtpStream<AsyncRustlsStream>;

pub(crate) struct Pool {
    pub(crate) config: FtpConfig,
    /// `ftp://user@host:port`, as messages name the server.
    pub(crate) server: String,
    idle: Mutex<Vec<Ftp>>,
    permits: Arc<Semaphore>,
    /// TLS settings of an `ftps://` store.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("idle", &self.idle.lock().map_or(0, |i| i.len()))
            .finish_non_exhaustive()
    }
}

/// A connection taken from the pool; it goes back when dropped, unless
/// [`Conn::broken`] was called.
pub(crate) struct Conn {
    ftp: Option<Ftp>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("server", &self.pool.server)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(config: FtpConfig) -> Result<Arc<Self>> {
        let tls = if config.tls {
            Some(crate::tls::client_config(&config)?)
        } else {
            None
        };
        Ok(Arc::new(Self {
            server: config.server(),
            permits: Arc::new(Semaphore::new(config.max_connections)),
            config,
            idle: Mutex::new(Vec::new()),
            tls,
        }))
    }

    /// Runs `f` under the idle timeout, if one is set.
    pub(crate) async fn timed<T>(&self, action: &str, path: &str, f: impl Future<Output = FtpResult<T>>) -> Result<T> {
        let r = match self.config.timeout {
            Some(t) => match tokio::time::timeout(t, f).await {
                Ok(r) => r,
                Err(_) => return Err(Error::stalled(action, &self.server, path, t.as_secs_f64())),
            },
            None => f.await,
        };
        r.map_err(|e| ftp_error(action, &self.server, path, &e))
    }

    /// A logged-in connection: an idle one, or a new one.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<Conn> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::unexpected("the connection pool is closed"))?;
        let idle = self.idle.lock().ok().and_then(|mut i| i.pop());
        let ftp = match idle {
            Some(ftp) => ftp,
            None => self.connect().await?,
        };
        Ok(Conn {
            ftp: Some(ftp),
            pool: self.clone(),
            _permit: permit,
        })
    }

    async fn connect(&self) -> Result<Ftp> {
        let c = &self.config;
        let addr = format!("{}:{}", c.host, c.port);
        let mut ftp = self.timed("connect to", "", Ftp::connect(addr.as_str())).await?;
        if let Some(tls) = &self.tls {
            let secure = ftp.into_secure(crate::tls::connector(tls), c.host.as_str());
            ftp = self.timed("start TLS with", "", secure).await.map_err(|e| {
                if e.message.contains("certificate") {
                    Error {
                        message: format!(
                            "{}: the server's certificate is not trusted (set ca_bundle or \
                             MLFLOW_TRACKING_SERVER_CERT_PATH to a PEM file with its CA, or ignore_tls / \
                             MLFLOW_TRACKING_INSECURE_TLS=true to skip verification)",
                            e.message
                        ),
                        temporary: false,
                        ..e
                    }
                } else {
                    e
                }
            })?;
        }
        ftp.set_mode(Mode::ExtendedPassive);
        self.timed("log in to", "", ftp.login(c.user.as_str(), c.password.as_str()))
            .await?;
        self.timed("set binary mode on", "", ftp.transfer_type(FileType::Binary))
            .await?;
        Ok(ftp)
    }
}

impl Conn {
    pub(crate) fn ftp(&mut self) -> Result<&mut Ftp> {
        self.ftp
            .as_mut()
            .ok_or_else(|| Error::unexpected("the FTP connection is gone"))
    }

    /// Marks the connection unusable: it is closed, not returned.
    pub(crate) fn broken(&mut self) {
        self.ftp = None;
    }

    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(ftp) = self.ftp.take()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(ftp);
        }
    }
}
