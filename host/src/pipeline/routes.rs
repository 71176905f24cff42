//! The route logic proper: what the routes of an event's source make of it, as message rows.
//! Free of the store, so that `wasmhook test` runs exactly what the live pipeline runs.

use std::sync::Arc;

use crate::plugin::PluginEngine;
use crate::store::{NewEvent, NewMessage};
use crate::topology::{Route, Topology};

use super::chain::ShuttingDown;
use super::{chain, envelope, messages};

/// Runs every route of the event's source, in routes.toml order: the messages to deliver
/// (`pending`), those a filter dropped (`filtered`) or a failure stopped (`dead`), and those of
/// a route waiting for a plugin to load (`held`). An error when the router's shutdown cut a
/// plugin call: the event is to run again at the next start.
pub async fn messages_for(
    engine: &Arc<PluginEngine>,
    topology: &Topology,
    event: &NewEvent,
) -> Result<Vec<NewMessage>, ShuttingDown> {
    let routes = topology.routes_for(&event.source);
    if routes.is_empty() {
        return Ok(Vec::new());
    }
    // A route without plugins passes a JSON body on as it came: nothing to parse or rebuild.
    let plain = |route: &Route| route.held_by.is_empty() && has_no_plugins(route);
    let json_body = routes.iter().any(|route| plain(route))
        && envelope::is_json(envelope::content_type(event), &event.body);
    let unchanged = |route: &Route| json_body && plain(route);
    let runs_plugins = |route: &Route| route.held_by.is_empty() && !unchanged(route);
    let mut with_plugins = routes.iter().filter(|route| runs_plugins(route)).count();
    let mut envelope = None;
    if with_plugins > 0 {
        match envelope::from_event(event) {
            Ok(built) => envelope = Some(built),
            Err(error) => {
                return Ok(routes
                    .iter()
                    .flat_map(|route| messages::failed(event, route, error.to_string(), Vec::new()))
                    .collect());
            }
        }
    }
    let mut messages = Vec::new();
    for route in routes {
        if !route.held_by.is_empty() {
            messages.extend(messages::held(event, route));
            continue;
        }
        if unchanged(route) {
            messages.extend(messages::unchanged(event, route));
            continue;
        }
        with_plugins -= 1;
        // The last route with plugins takes the envelope itself rather than a copy.
        let input = if with_plugins == 0 {
            envelope.take()
        } else {
            envelope.clone()
        };
        let input = input.expect("taken by the last route only");
        let run = run_route(engine, route.clone(), input).await?;
        messages.extend(messages::from_run(event, route, run));
    }
    Ok(messages)
}

/// What one route makes of an event: how a route that held its events runs them once the
/// plugins it waited for have loaded. An error when the router's shutdown cut a plugin call.
pub async fn route_messages(
    engine: &Arc<PluginEngine>,
    route: &Arc<Route>,
    event: &NewEvent,
) -> Result<Vec<NewMessage>, ShuttingDown> {
    if !route.held_by.is_empty() {
        return Ok(messages::held(event, route));
    }
    if has_no_plugins(route) && envelope::is_json(envelope::content_type(event), &event.body) {
        return Ok(messages::unchanged(event, route));
    }
    Ok(match envelope::from_event(event) {
        Ok(envelope) => {
            let run = run_route(engine, route.clone(), envelope).await?;
            messages::from_run(event, route, run)
        }
        Err(error) => messages::failed(event, route, error.to_string(), Vec::new()),
    })
}

fn has_no_plugins(route: &Route) -> bool {
    route.filters.is_empty() && route.transforms.is_empty()
}

/// Plugins run on the blocking pool, at most as many at once as the engine has permits.
async fn run_route(
    engine: &Arc<PluginEngine>,
    route: Arc<Route>,
    envelope: envelope::Envelope,
) -> Result<chain::RouteRun, ShuttingDown> {
    if has_no_plugins(&route) {
        return Ok(chain::RouteRun {
            outcome: chain::Outcome::Messages(vec![envelope]),
            plugins: Vec::new(),
        });
    }
    let permit = engine
        .permits
        .clone()
        .acquire_owned()
        .await
        .expect("never closed");
    let engine = engine.clone();
    let route_name = route.name.clone();
    tokio::task::spawn_blocking(move || {
        let run = chain::run(&engine, &route, envelope);
        drop(permit);
        run
    })
    .await
    .unwrap_or_else(|panic| {
        Ok(chain::RouteRun {
            outcome: chain::Outcome::Failed(format!(
                "route {route_name}: the plugin host panicked: {panic}"
            )),
            plugins: Vec::new(),
        })
    })
}
