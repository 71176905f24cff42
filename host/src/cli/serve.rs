//! `wasmhook serve`: everything, wired together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::admin::{self, Admin};
use crate::config::Config;
use crate::delivery::Delivery;
use crate::ingest::{self, Ingest};
use crate::pipeline::Pipeline;
use crate::plugin::PluginEngine;
use crate::store::Store;
use crate::telemetry;
use crate::topology::reload::Reloader;
use crate::topology::watch;

pub async fn serve(config_path: PathBuf) -> anyhow::Result<ExitCode> {
    let config_path = std::path::absolute(&config_path).context("resolving the config path")?;
    let config = match Config::load(&config_path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let metrics = telemetry::install()?;
    let engine = PluginEngine::new(config.server.plugin_concurrency)?;
    let reloader = {
        let (path, engine) = (config_path.clone(), engine.clone());
        match tokio::task::spawn_blocking(move || Reloader::start(path, engine)).await? {
            Ok(reloader) => reloader,
            Err(error) => {
                eprintln!("{error}");
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    let store = Store::open(&config.server.data_dir)?;
    let wake = Arc::new(Notify::new());
    Delivery::start(
        store.clone(),
        reloader.clone(),
        wake.clone(),
        config.server.delivery_concurrency,
    );
    let pipeline = Pipeline::start(store.clone(), engine, reloader.clone(), wake);
    watch::spawn(reloader.clone())?;

    let ingest = Ingest {
        store,
        pipeline,
        reloader,
    };
    let ingest_listener = bind("ingest", config.server.listen).await?;
    if let Some(addr) = config.server.admin {
        let listener = bind("admin", addr).await?;
        let router = admin::router(Admin {
            ingest: ingest.clone(),
            metrics,
        });
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown())
                .await
        });
    }
    axum::serve(ingest_listener, ingest::router(ingest))
        .with_graceful_shutdown(shutdown())
        .await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn bind(listener: &'static str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({listener})"))?;
    let addr = socket.local_addr()?;
    tracing::info!(listener, addr = %addr, "listening");
    Ok(socket)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}
