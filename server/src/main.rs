//! The `hearth` binary: reads the configuration, starts the server, stops it on Ctrl-C/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use server::Config;
use server::config::LogFormat;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    keep_large_buffers_out_of_the_heap();
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    if let Some(server::config::Command::Admin(command)) = &config.command {
        return match server::cli::admin(&config, command).await {
            Ok(done) => {
                println!("{done}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("hearth: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let database = config.database_url.clone();
    let server = match server::start(config).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "could not start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        "Hearth is listening on http://{} (database {database})",
        server.addr
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Every sign-up and sign-in hashes with argon2, which allocates 19 MiB and frees it. glibc
/// answers the first such free by raising its mmap threshold, after which these buffers come from
/// the heap and are not given back: RSS grew by 19 MiB per sign-up (1,000 accounts: 19 GB).
/// Pinning the threshold keeps big buffers in their own mappings, returned on free.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning, and glibc serializes it with allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
