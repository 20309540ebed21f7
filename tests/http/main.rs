//! The raw HTTP contract of `arca serve`, against a real server process:
//! status codes, bodies and headers as MLflow clients see them, `Range`,
//! path safety (with canaries), multipart uploads and signed downloads.

mod auth;
mod contract;
mod multipart;
mod safety;
mod server;
