//! Operations: `/healthz` (the process answers), `/readyz` (the database takes a write) and
//! `/metrics` (Prometheus text format, from this machine only unless a token is configured),
//! and the functions the rest of the server calls to count what it does.
//!
//! The recorder is the `metrics` crate's global one, installed once per process (a test process
//! runs many servers; they share it). Counters cost an atomic add where they are counted: the
//! message path counts once per commit batch and once per room delivery, never per recipient.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's metrics recorder (once); `None` if another recorder was installed.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("hearth_commit_batch_size".into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                )
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Suffix("_seconds".into()),
                        &[
                            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0,
                        ],
                    )
                })
                .and_then(PrometheusBuilder::install_recorder);
            match handle {
                Ok(handle) => {
                    let upkeep = handle.clone();
                    // Histograms are drained into their buckets here, off the async workers.
                    std::thread::spawn(move || {
                        loop {
                            std::thread::sleep(Duration::from_secs(5));
                            upkeep.run_upkeep();
                        }
                    });
                    Some(handle)
                }
                Err(error) => {
                    tracing::warn!(%error, "metrics are off");
                    None
                }
            }
        })
        .as_ref()
}

/// A limit refused something (`what`: sign_in, sign_up, message, room_change, sockets).
pub fn refused(what: &'static str) {
    metrics::counter!("hearth_limit_refusals_total", "limit" => what).increment(1);
}

/// A connection was closed because it did not read its frames.
pub fn slow_reader() {
    metrics::counter!("hearth_slow_reader_disconnects_total").increment(1);
}

/// This node read back part of the cluster's log it missed on the bus.
pub fn log_filled() {
    metrics::counter!("hearth_bus_log_fills_total").increment(1);
}

/// This node's link to the bus broke and came back (its connections were told to resync).
pub fn bus_resync() {
    metrics::counter!("hearth_bus_resyncs_total").increment(1);
}

/// A publication from the bus could not be read.
pub fn bus_unreadable() {
    metrics::counter!("hearth_bus_unreadable_total").increment(1);
}

/// A commit batch of `messages` was stored in `took`.
pub fn committed(messages: usize, took: Duration) {
    metrics::counter!("hearth_messages_stored_total").increment(messages as u64);
    metrics::histogram!("hearth_commit_batch_size").record(messages as f64);
    metrics::histogram!("hearth_commit_seconds").record(took.as_secs_f64());
}

/// A frame was handed to `recipients` connections.
pub fn delivered(recipients: usize) {
    metrics::counter!("hearth_deliveries_total").increment(recipients as u64);
}

/// `GET /healthz`: the process is up and answering.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: the database takes a write within two seconds.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.store.probe_write()).await {
        Ok(Ok(())) => "ready\n".into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness probe failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database write failed\n").into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database write timed out\n",
        )
            .into_response(),
    }
}

/// `GET /metrics`: from this machine, or with `Authorization: Bearer <metrics token>`.
pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let from_here = state.limits.client_address(peer, &headers).is_loopback();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let token_ok = match (&state.config.metrics_token, bearer) {
        (Some(token), Some(given)) => constant_time_eq(token.as_bytes(), given.as_bytes()),
        _ => false,
    };
    if !from_here && !token_ok {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to this machine or with the token\n",
        )
            .into_response();
    }
    let Some(recorder) = recorder() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics are off\n").into_response();
    };
    metrics::gauge!("hearth_connections").set(state.bus.hub().connections() as f64);
    metrics::gauge!("hearth_users_online").set(state.bus.hub().users_online() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        recorder.render(),
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
