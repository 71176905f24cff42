//! The running wiring as the stages read it: the current topology, the load failures met
//! since it was built, and a signal when another is swapped in. Read only: the stages take
//! what is current and cannot change it; only the reloader does.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use super::Topology;
use super::running::Running;

#[derive(Clone)]
pub struct Wiring {
    running: Arc<ArcSwap<Running>>,
    /// Counts the topologies swapped in.
    swaps: Arc<watch::Sender<u64>>,
}

impl Wiring {
    pub(super) fn new(running: Running) -> Wiring {
        Wiring {
            running: Arc::new(ArcSwap::from_pointee(running)),
            swaps: Arc::new(watch::Sender::new(0)),
        }
    }

    /// The running topology; an event holds on to it for its whole trip through the pipeline.
    pub fn current(&self) -> Arc<Topology> {
        self.running.load().topology.clone()
    }

    /// The running topology with the load failures met since it was built.
    pub fn running(&self) -> Arc<Running> {
        self.running.load_full()
    }

    /// Changes whenever a new topology is swapped in.
    pub fn swaps(&self) -> watch::Receiver<u64> {
        self.swaps.subscribe()
    }

    /// Publishes `running`; `swapped` when it holds another topology than before.
    pub(super) fn publish(&self, running: Running, swapped: bool) {
        self.running.store(Arc::new(running));
        if swapped {
            self.swaps.send_modify(|swaps| *swaps += 1);
        }
    }
}
