//! `/health`, `/version` and `/api/3.0/mlflow/server-info`.

use super::AppState;
use super::api::json_response;
use axum::extract::State;
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

/// The capability document the MLflow client reads before transfers. The
/// multipart flags say what is fastest for the destination, or what the
/// operator chose (`--[no-]multipart-uploads`, `--[no-]multipart-downloads`);
/// the multipart routes work whatever they say.
pub async fn server_info(State(app): State<AppState>) -> Response {
    let body = serde_json::json!({
        "store_type": null,
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": app.multipart_uploads,
        "multipart_downloads_enabled": app.multipart_downloads,
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
