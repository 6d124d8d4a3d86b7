//! The scheduled sweep: releases holds whose time ran out but which TTL has not deleted yet
//! (in AWS that can take up to 48 hours), through the `HeldByExpiry` index.

use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use shared::{flows, AppState};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepSummary {
    pub found: usize,
    pub released: usize,
    pub failed: usize,
}

/// The EventBridge event carries nothing the sweep needs.
pub async fn handler(
    state: &AppState,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<SweepSummary, Error> {
    let report = flows::holds::sweep(state).await?;
    tracing::info!(?report, "sweep done");
    Ok(SweepSummary {
        found: report.found,
        released: report.released,
        failed: report.failed,
    })
}
