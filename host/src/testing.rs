//! The stages built in process, for unit tests: the test's routes.toml in a temporary folder,
//! the store in it, the wiring read from it, and delivery and the pipeline started on them.
//! No listener and no subprocess: a router is driven with `tower::ServiceExt::oneshot`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tempfile::TempDir;

use crate::delivery::Delivery;
use crate::ingest::{BodyBudget, Ingest};
use crate::pipeline::Pipeline;
use crate::plugin::PluginEngine;
use crate::store::Store;
use crate::tasks::Tasks;
use crate::topology::Wiring;
use crate::topology::reload::{Reloader, read_config};

pub struct Stages {
    /// Holds routes.toml and the store (`data_dir = "data"`).
    pub dir: TempDir,
    pub store: Store,
    pub reloader: Arc<Reloader>,
    pub wiring: Wiring,
    pub delivery: Arc<Delivery>,
    pub pipeline: Pipeline,
    /// Shared by ingest and the health checks, as in `serve`.
    pub accepting: Arc<AtomicBool>,
}

impl Stages {
    /// The stages of `wiring` (sources, plugins, subscribers, routes) under a `[server]` table
    /// with `server_extra` and `data_dir = "data"`.
    pub async fn start(server_extra: &str, wiring: &str) -> Stages {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.toml");
        let text = format!("[server]\ndata_dir = \"data\"\n{server_extra}\n\n{wiring}\n");
        std::fs::write(&path, text).unwrap();
        let (config, sha256) = read_config(&path).unwrap();
        let config = Arc::new(config);
        let engine = PluginEngine::new(1, None).unwrap();
        let reloader = Reloader::start(path, config.clone(), sha256, engine.clone());
        let store = Store::open(&config.server.data_dir).unwrap();
        let wiring = reloader.wiring().clone();
        let tasks = Tasks::new();
        let delivery = Delivery::start(store.clone(), wiring.clone(), 4, &tasks)
            .await
            .unwrap();
        let pipeline = Pipeline::start(
            store.clone(),
            engine,
            wiring.clone(),
            delivery.clone(),
            &tasks,
        );
        Stages {
            dir,
            store,
            reloader,
            wiring,
            delivery,
            pipeline,
            accepting: Arc::new(AtomicBool::new(true)),
        }
    }

    pub fn ingest(&self) -> Ingest {
        Ingest {
            store: self.store.clone(),
            pipeline: self.pipeline.clone(),
            wiring: self.wiring.clone(),
            accepting: self.accepting.clone(),
            bodies: BodyBudget::new(self.wiring.current().config.server.max_body_memory),
        }
    }
}
