//! # arca-plugin-gcs: `gs://` URIs (in progress)
//!
//! The Arca storage plugin for Google Cloud Storage, to be built on
//! `object_store`'s GCS client and `arca-objstore`, as the Azure plugin is.
//! **Not a plugin yet**: this crate holds the parsing of the URI, MLflow's
//! settings and the credential file, with its tests. The store, V4-signed
//! multipart part URLs for the endpoint actually used, the project's GCS
//! XML-API test server and the conformance run come next; until then the
//! crate builds no library the host could load and `gs://` is not in the
//! manifest.
//!
//! ## Configuration (as it will be)
//!
//! | Key | Environment variable | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `credentials_file` | `GOOGLE_APPLICATION_CREDENTIALS` | application-default credentials, else the metadata server | A service-account key or an `authorized_user` file. `external_account` (workload identity federation) and `impersonated_service_account` files are refused by name, with what to do instead. |
//! | `endpoint` | `STORAGE_EMULATOR_HOST` | `https://storage.googleapis.com` | Another endpoint (an emulator, a private endpoint); `host:port` without a scheme means `http://host:port`, as google-cloud-storage reads it. |
//! | `upload_chunk_size` | `MLFLOW_GCS_UPLOAD_CHUNK_SIZE` | 8 MiB | Bytes per part of large writes: a multiple of 256 KiB; parts below 5 MiB (the XML API's smallest) are raised to it. |
//! | `download_chunk_size` | `MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE` | 8 MiB | Bytes per ranged read of large files: a multiple of 256 KiB. |
//! | `timeout` | `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT`, then the deprecated `MLFLOW_GCS_DEFAULT_TIMEOUT` (with a warning) | 60 s | Seconds per request; `-1`: none. |

mod config;

pub use config::{CredentialSource, GcsConfig};
