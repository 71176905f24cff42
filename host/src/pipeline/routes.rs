//! The route logic proper: what the routes of an event's source make of it, as message rows.
//! Free of the store, so that `wasmhook test` runs exactly what the live pipeline runs.

use std::sync::Arc;

use crate::plugin::PluginEngine;
use crate::store::{NewEvent, NewMessage};
use crate::topology::{Route, Topology};

use super::chain::{ShuttingDown, Stage, Trace};
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
        let (run, _) = run_route(engine, route.clone(), input, Trace::default()).await?;
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
    let (messages, _) = traced_route(engine, route, event, Trace::default()).await?;
    Ok(messages)
}

/// What one route makes of an event, and each plugin call on the way: the route debugger's
/// dry run, which runs what the pipeline runs and stores and sends nothing.
pub async fn trace_route(
    engine: &Arc<PluginEngine>,
    route: &Arc<Route>,
    event: &NewEvent,
) -> Result<(Vec<NewMessage>, Vec<Stage>), ShuttingDown> {
    let (messages, trace) = traced_route(engine, route, event, Trace::on()).await?;
    Ok((messages, trace.stages()))
}

async fn traced_route(
    engine: &Arc<PluginEngine>,
    route: &Arc<Route>,
    event: &NewEvent,
    trace: Trace,
) -> Result<(Vec<NewMessage>, Trace), ShuttingDown> {
    if !route.held_by.is_empty() {
        return Ok((messages::held(event, route), trace));
    }
    if has_no_plugins(route) && envelope::is_json(envelope::content_type(event), &event.body) {
        return Ok((messages::unchanged(event, route), trace));
    }
    Ok(match envelope::from_event(event) {
        Ok(envelope) => {
            let (run, trace) = run_route(engine, route.clone(), envelope, trace).await?;
            (messages::from_run(event, route, run), trace)
        }
        Err(error) => {
            let failed = messages::failed(event, route, error.to_string(), Vec::new());
            (failed, trace)
        }
    })
}

/// Whether none of these routes runs or waits for a plugin: their messages are made at once.
pub fn run_no_plugin(routes: &[Arc<Route>]) -> bool {
    routes
        .iter()
        .all(|route| route.held_by.is_empty() && has_no_plugins(route))
}

fn has_no_plugins(route: &Route) -> bool {
    route.filters.is_empty() && route.transforms.is_empty()
}

/// Plugins run on the blocking pool, at most as many at once as the engine has permits.
async fn run_route(
    engine: &Arc<PluginEngine>,
    route: Arc<Route>,
    envelope: envelope::Envelope,
    mut trace: Trace,
) -> Result<(chain::RouteRun, Trace), ShuttingDown> {
    if has_no_plugins(&route) {
        let run = chain::RouteRun {
            outcome: chain::Outcome::Messages(vec![envelope]),
            plugins: Vec::new(),
        };
        return Ok((run, trace));
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
        let run = chain::run(&engine, &route, envelope, &mut trace);
        drop(permit);
        Ok((run?, trace))
    })
    .await
    .unwrap_or_else(|panic| {
        let run = chain::RouteRun {
            outcome: chain::Outcome::Failed(format!(
                "route {route_name}: the plugin host panicked: {panic}"
            )),
            plugins: Vec::new(),
        };
        Ok((run, Trace::default()))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use serde_json::{Value, json};

    use super::*;
    use crate::store::{MessageStatus, RequestMeta};
    use crate::topology::Basis;
    use crate::topology::reload::read_config;

    /// A function plugin (a core module with the canonical ABI written out) whose `handle`
    /// answers `ok` with `output`, or `err` with it when `fails`, whatever the envelope.
    fn constant_plugin(output: &str, fails: bool) -> Vec<u8> {
        let data: String = output.bytes().map(|b| format!("\\{b:02x}")).collect();
        let wat = format!(
            r#"(module
                 (memory (export "memory") 1)
                 (global $next (mut i32) (i32.const 4096))
                 (data (i32.const 1024) "{data}")
                 (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                   (local $ptr i32)
                   (local.set $ptr (global.get $next))
                   (global.set $next (i32.add (global.get $next) (local.get 3)))
                   (if (i32.gt_u (global.get $next) (i32.shl (memory.size) (i32.const 16)))
                     (then (drop (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16))
                                                       (i32.const 1))))))
                   (local.get $ptr))
                 (func (export "handle") (param i32 i32) (result i32)
                   (i32.store8 (i32.const 0) (i32.const {tag}))
                   (i32.store offset=4 (i32.const 0) (i32.const 1024))
                   (i32.store offset=8 (i32.const 0) (i32.const {len}))
                   (i32.const 0)))"#,
            tag = u8::from(fails),
            len = output.len(),
        );
        wat::parse_str(wat).expect("valid WAT")
    }

    /// A message as a test looks at it: its subscriber, status and body.
    type Seen = (String, MessageStatus, Value);

    /// What a case is called, its route's filters and transforms, and the messages expected.
    type Case<'a> = (&'a str, Vec<&'a TestPlugin>, Vec<&'a TestPlugin>, Vec<Seen>);

    /// `[plugins.NAME]` answering `output` (`Err` for a plugin error) with `extra` settings.
    struct TestPlugin {
        name: &'static str,
        output: Result<&'static str, &'static str>,
        extra: &'static str,
    }

    /// A plugin answering `output`.
    const fn answering(name: &'static str, output: &'static str) -> TestPlugin {
        TestPlugin {
            name,
            output: Ok(output),
            extra: "",
        }
    }

    /// A plugin failing with "no such field", handled as `extra` says.
    const fn failing(name: &'static str, extra: &'static str) -> TestPlugin {
        TestPlugin {
            name,
            output: Err("no such field"),
            extra,
        }
    }

    const PASS: TestPlugin = answering("pass", "true");
    const DROP: TestPlugin = answering("drop", "false");
    const SPLIT: TestPlugin = answering(
        "split",
        r#"[{"body": {"n": 1}}, {"body": {"n": 2}, "type": "second"}]"#,
    );
    const TO_CI: TestPlugin =
        answering("to-ci", r#"{"body": {"for": "ci"}, "subscribers": ["ci"]}"#);
    const NOTHING: TestPlugin = answering("nothing", "null");
    const BROKEN: TestPlugin = failing("broken", "");
    const BROKEN_PASSING: TestPlugin = failing("broken-passing", r#"on_error = "pass""#);
    const BROKEN_DROPPING: TestPlugin = failing("broken-dropping", r#"on_error = "drop""#);

    /// The messages of a GitHub push on one route through `filters` and `transforms` to the
    /// subscribers `ci` and `chat`, as (subscriber, status, body) sorted.
    async fn route_through(filters: &[&TestPlugin], transforms: &[&TestPlugin]) -> Vec<Seen> {
        let dir = tempfile::tempdir().unwrap();
        let mut wiring = String::from(
            "[sources.github]\n\n[subscribers.ci]\nurl = \"http://127.0.0.1:9/ci\"\n\n\
             [subscribers.chat]\nurl = \"http://127.0.0.1:9/chat\"\n\n",
        );
        for plugin in filters.iter().chain(transforms) {
            let bytes = match plugin.output {
                Ok(output) => constant_plugin(output, false),
                Err(message) => constant_plugin(message, true),
            };
            std::fs::write(dir.path().join(format!("{}.wasm", plugin.name)), bytes).unwrap();
            wiring += &format!(
                "[plugins.{0}]\nwasm = \"{0}.wasm\"\n{1}\n\n",
                plugin.name, plugin.extra
            );
        }
        let names =
            |plugins: &[&TestPlugin]| -> Vec<&str> { plugins.iter().map(|p| p.name).collect() };
        wiring += &format!(
            "[[routes]]\nname = \"pushes\"\nsource = \"github\"\nfilters = {:?}\ntransforms = {:?}\nsubscribers = [\"ci\", \"chat\"]\n",
            names(filters),
            names(transforms)
        );
        let path = dir.path().join("routes.toml");
        std::fs::write(&path, wiring).unwrap();
        let (config, sha256) = read_config(&path).unwrap();
        let engine = PluginEngine::new(1, None).unwrap();
        let built = Topology::build(
            &engine,
            Arc::new(config),
            sha256,
            Basis::Strict,
            &BTreeMap::new(),
            &mut BTreeMap::new(),
        );
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        let topology = built.topology.unwrap();
        let messages = messages_for(&engine, &topology, &push()).await.unwrap();
        let mut seen: Vec<_> = messages
            .into_iter()
            .map(|m| {
                let body = m
                    .body
                    .map_or(Value::Null, |b| serde_json::from_slice(&b).unwrap());
                (m.subscriber, m.status, body)
            })
            .collect();
        seen.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        seen
    }

    fn push() -> NewEvent {
        NewEvent {
            id: "evt_1".to_owned(),
            source: "github".to_owned(),
            event_type: Some("push".to_owned()),
            received_at: 0,
            request: RequestMeta {
                method: "POST".to_owned(),
                path: "/hooks/github".to_owned(),
                query: BTreeMap::new(),
                headers: BTreeMap::from([(
                    "content-type".to_owned(),
                    "application/json".to_owned(),
                )]),
            },
            body: Bytes::from_static(br#"{"ref":"refs/heads/main"}"#),
        }
    }

    fn each(status: MessageStatus, body: Value) -> Vec<Seen> {
        let mut both: Vec<_> = ["chat", "ci"]
            .into_iter()
            .map(|s| (s.to_owned(), status, body.clone()))
            .collect();
        both.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        both
    }

    #[tokio::test]
    async fn what_each_kind_of_route_makes_of_an_event() {
        let event = json!({"ref": "refs/heads/main"});
        let pending = MessageStatus::Pending;
        let cases: Vec<Case> = vec![
            (
                "no plugins: the event as it came",
                vec![],
                vec![],
                each(pending, event.clone()),
            ),
            (
                "a passing filter",
                vec![&PASS],
                vec![],
                each(pending, event.clone()),
            ),
            (
                "a dropping filter",
                vec![&PASS, &DROP],
                vec![&SPLIT],
                each(MessageStatus::Filtered, Value::Null),
            ),
            (
                "a transform dropping the event",
                vec![],
                vec![&NOTHING],
                each(MessageStatus::Filtered, Value::Null),
            ),
            (
                "a fan-out: every message to every subscriber",
                vec![&PASS],
                vec![&SPLIT],
                [
                    each(pending, json!({"n": 1})),
                    each(pending, json!({"n": 2})),
                ]
                .concat(),
            ),
            (
                "a message for a subset of the subscribers",
                vec![],
                vec![&TO_CI],
                vec![("ci".to_owned(), pending, json!({"for": "ci"}))],
            ),
            (
                "a plugin error: dead letters",
                vec![],
                vec![&BROKEN],
                each(MessageStatus::Dead, Value::Null),
            ),
            (
                "on_error = \"drop\"",
                vec![],
                vec![&BROKEN_DROPPING],
                each(MessageStatus::Filtered, Value::Null),
            ),
            (
                "on_error = \"pass\"",
                vec![],
                vec![&BROKEN_PASSING],
                each(pending, event.clone()),
            ),
        ];
        for (case, filters, transforms, mut expected) in cases {
            expected.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
            assert_eq!(
                route_through(&filters, &transforms).await,
                expected,
                "{case}"
            );
        }
    }
}
