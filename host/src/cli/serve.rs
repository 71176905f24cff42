//! `wasmhook serve`: everything, wired together.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::admin::{self, Admin};
use crate::delivery::Delivery;
use crate::ingest::{self, BodyBudget, Ingest};
use crate::listener::{Limits, Listener};
use crate::node;
use crate::pipeline::Pipeline;
use crate::plugin::PluginEngine;
use crate::retention;
use crate::store::Store;
use crate::tasks::Tasks;
use crate::telemetry;
use crate::topology::reload::{Reloader, read_config};
use crate::topology::{rebuild, watch};
use std::sync::atomic::{AtomicBool, Ordering};

use super::service;

pub async fn serve(
    config_path: PathBuf,
    watch_builds: bool,
    node: Option<String>,
) -> anyhow::Result<ExitCode> {
    let config_path = std::path::absolute(&config_path).context("resolving the config path")?;
    let (config, sha256) = match read_config(&config_path) {
        Ok((config, sha256)) => (Arc::new(config), sha256),
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let metrics = telemetry::install()?;
    let engine = PluginEngine::new(
        config.server.plugin_concurrency,
        Some(config.server.data_dir.join("plugin-cache")),
    )?;
    let reloader = {
        let (path, config, engine) = (config_path.clone(), config.clone(), engine.clone());
        tokio::task::spawn_blocking(move || Reloader::start(path, config, sha256, engine)).await?
    };
    let wiring = reloader.wiring().clone();
    let node = node::name(node);
    let this_node = node::state(&node, config.server.listen, &wiring.current());
    let store = match &config.server.store {
        Some(url) => Store::connect(url, this_node.clone())
            .await
            .context("connecting to the shared store (`store` in [server])")?,
        None => Store::open(&config.server.data_dir)?,
    };
    store.heartbeat(&this_node).await?;
    let tasks = Tasks::new();
    let delivery = Delivery::start(
        store.clone(),
        wiring.clone(),
        config.server.delivery_concurrency,
        &tasks,
    )
    .await?;
    let pipeline = Pipeline::start(
        store.clone(),
        engine,
        wiring.clone(),
        delivery.clone(),
        &tasks,
    );
    watch::spawn(reloader.clone(), &tasks)?;
    service::reload_on_hangup(reloader.clone(), &tasks)?;
    if watch_builds {
        rebuild::spawn(reloader.clone(), &tasks)?;
    }
    retention::spawn(store.clone(), wiring.clone(), &tasks);

    let accepting = Arc::new(AtomicBool::new(true));
    let ingest = Ingest {
        store: store.clone(),
        pipeline: pipeline.clone(),
        wiring: wiring.clone(),
        accepting,
        bodies: BodyBudget::new(config.server.max_body_memory),
    };
    let limits = Limits::of(&config.server);
    let (stop, stopped) = tokio::sync::watch::channel(None);
    let ingest_listener = Listener::bind("ingest", config.server.listen, limits).await?;
    let address = ingest_listener.local_addr()?;
    node::spawn_heartbeat(store.clone(), wiring.clone(), (node, address), &tasks);
    let mut servers = vec![tokio::spawn(
        ingest_listener.serve(ingest::router(ingest.clone()), stopped.clone()),
    )];
    if let Some(addr) = config.server.admin {
        let listener = Listener::bind("admin", addr, limits).await?;
        if config.server.admin_token.is_none() && !admin::access::is_loopback(addr.ip()) {
            telemetry::admin_unprotected(listener.local_addr()?);
        }
        let router = admin::router(Admin {
            store: store.clone(),
            pipeline: pipeline.clone(),
            wiring: wiring.clone(),
            reloader: reloader.clone(),
            delivery: delivery.clone(),
            metrics,
            health: ingest.health(),
        });
        servers.push(tokio::spawn(listener.serve(router, stopped)));
    }

    service::ready(&format!(
        "serving {} routes",
        reloader.wiring().current().config.routes.len()
    ));

    service::shutdown_signal().await;
    service::stopping();
    let deadline =
        tokio::time::Instant::now() + reloader.wiring().current().config.server.shutdown_timeout;
    ingest.accepting.store(false, Ordering::SeqCst);
    tracing::info!("shutting down: new events are answered 503 while in-flight work finishes");
    let events_left = pipeline.drain(deadline).await;
    let deliveries_left = delivery.drain(deadline).await;
    let tasks_left = tasks.stop(deadline).await;
    if let Err(error) = store.leave().await {
        tracing::warn!(%error, "cannot hand this node's unfinished work to the other nodes; they take it when its lease runs out");
    }
    let messages_pending = store
        .count_messages(crate::store::MessageStatus::Pending)
        .await
        .unwrap_or(0);
    if !tasks_left.is_empty() {
        tracing::warn!(tasks = ?tasks_left, "background tasks still running at the deadline");
    }
    tracing::info!(
        events_left,
        deliveries_left,
        messages_pending,
        tasks_left = tasks_left.len(),
        "stopped; unfinished work resumes at the next start"
    );
    let _ = stop.send(Some(deadline));
    for server in servers {
        let _ = server.await;
    }
    Ok(ExitCode::SUCCESS)
}
