//! `/health`, `/version` and `/api/3.0/mlflow/server-info`.

use super::api::json_response;
use axum::http::StatusCode;
use axum::response::Response;

/// The MLflow version whose REST API this server speaks.
pub const MLFLOW_API_VERSION: &str = "3.18.0";

pub async fn health() -> &'static str {
    "OK"
}

pub async fn version() -> &'static str {
    MLFLOW_API_VERSION
}

/// The capability document the MLflow client reads before transfers. Both
/// multipart flags are true for every destination: part uploads are
/// presigned by the plugin where the backend can, staged by this server
/// otherwise, and downloads are always served through signed ranged URLs.
pub async fn server_info() -> Response {
    let body = serde_json::json!({
        "store_type": null,
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": true,
        "multipart_downloads_enabled": true,
        "artifact_serving_enabled": true,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "model_artifact_presigned_downloads_supported": false,
        "features_enabled": { "gateway": false, "scheduled_issue_detection": false },
        "tracking_auth": "",
        "artifacts_presigned_only": false,
    });
    json_response(StatusCode::OK, &body)
}
