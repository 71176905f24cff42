//! `wasmhook check`: every problem with routes.toml and its plugins, at once.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{Config, Diagnostic};
use crate::plugin::{CompiledPlugin, PluginEngine};

pub async fn check(config_path: &Path) -> anyhow::Result<ExitCode> {
    let text = match Config::read(config_path) {
        Ok(text) => text,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let (config, errors) =
        Config::parse_partial(config_path, &text, &|name| std::env::var(name).ok());
    let mut problems = errors.0;
    if let Some(config) = config {
        problems.extend(compile_plugins(config).await?);
    }
    if problems.is_empty() {
        println!("{}: ok", config_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    problems.sort_by_key(|problem| problem.location.as_ref().map(|at| (at.line, at.column)));
    for problem in &problems {
        eprintln!("{problem}");
    }
    Ok(ExitCode::FAILURE)
}

/// Compiles every plugin the config describes, as `serve` would; one diagnostic per failure,
/// at the plugin's `wasm` key.
async fn compile_plugins(config: Config) -> anyhow::Result<Vec<Diagnostic>> {
    let engine = PluginEngine::new(1, crate::plugin::user_cache_dir())?;
    Ok(tokio::task::spawn_blocking(move || {
        config
            .plugins
            .values()
            .filter_map(|plugin| {
                let error = CompiledPlugin::load(&engine, &plugin.wasm).err()?;
                Some(Diagnostic {
                    location: Some(plugin.wasm_location.clone()),
                    message: format!("plugin {:?}: {error}", plugin.name),
                })
            })
            .collect()
    })
    .await?)
}
