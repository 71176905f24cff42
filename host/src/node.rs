//! This node among those sharing a store: its name, what it runs, and the heartbeat that
//! tells the others (and keeps its claims on work its own, see `store::postgres`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::store::{NodeState, Store};
use crate::tasks::Tasks;
use crate::topology::{Topology, Wiring};

/// How often a node renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// The shortest lease: five heartbeats, so that a slow one or two do not lose it.
const MIN_LEASE: Duration = Duration::from_secs(10);

/// The node's name: `--node`, else the machine's host name.
pub fn name(given: Option<String>) -> String {
    given
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "wasmhook".to_owned())
}

/// What the node runs now: routes.toml's and every plugin's sha256.
pub fn state(name: &str, address: SocketAddr, topology: &Topology) -> NodeState {
    NodeState {
        name: name.to_owned(),
        address: address.to_string(),
        routes_sha256: topology.config_sha256.clone(),
        plugins: topology
            .plugins
            .iter()
            .map(|(name, plugin)| (name.clone(), plugin.compiled.sha256.clone()))
            .collect(),
        lease_ms: lease(topology).as_millis() as i64,
    }
}

/// Long enough that a node which stops starting attempts at half its lease (having failed to
/// renew it) has finished every attempt it started before another node may take them over:
/// more than twice the longest subscriber timeout.
fn lease(topology: &Topology) -> Duration {
    let longest = topology
        .subscribers
        .values()
        .map(|s| s.config.timeout)
        .max()
        .unwrap_or_default();
    MIN_LEASE.max(longest * 2 + HEARTBEAT)
}

/// Sends the node's heartbeat every [`HEARTBEAT`], with what it runs at that moment: a
/// plugin deployed or routes.toml changed shows in `GET /api/nodes` within one beat.
pub fn spawn_heartbeat(
    store: Store,
    wiring: Wiring,
    (name, address): (String, SocketAddr),
    tasks: &Tasks,
) {
    tasks.spawn("node heartbeat", async move {
        let mut failing = false;
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            let state = state(&name, address, &wiring.current());
            match store.heartbeat(&state).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("the node's heartbeat reaches the store again");
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    failing = true;
                    tracing::warn!(%error, "the node's heartbeat cannot reach the store");
                }
                Err(_) => {}
            }
        }
    });
}
