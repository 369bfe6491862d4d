//! `POST /v1/backup`: a running server's consistent backup of its source of truth.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ApiError, AppState};

/// Where a backup was written, and its manifest.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupAnswer {
    /// The backup's directory name under `DIR/backups/`.
    pub name: String,
    pub manifest: search::BackupManifest,
}

/// `POST /v1/backup`: writes the record store and the API keys into `DIR/backups/NAME` (a new
/// directory inside the data directory), consistently: writes wait while the store file is
/// copied, searches go on. `gridkb backup --data DIR OUT` calls this when a server holds the
/// data directory, then moves the backup to `OUT`.
#[utoipa::path(
    post,
    path = "/v1/backup",
    operation_id = "backup",
    tag = "operations",
    responses(
        (status = 200, description = "The backup's name and manifest", body = BackupAnswer),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: only admin keys may call this route", body = ApiError),
        (status = 503, description = "`not_ready`, with `Retry-After`", body = ApiError),
    ),
)]
pub(crate) async fn backup(State(state): State<AppState>) -> Result<Json<BackupAnswer>, ApiError> {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let name = format!("backup-{}-{:09}", stamp.as_secs(), stamp.subsec_nanos());
    let answer = state
        .run_write(move |engine| {
            let dir = engine.layout().server_backup_dir(&name);
            let manifest = engine.backup_to(&dir)?;
            tracing::info!(backup = %dir.display(), seq = manifest.seq, "backup written");
            Ok(BackupAnswer { name, manifest })
        })
        .await?;
    Ok(Json(answer))
}
