//! `wasmhook check`: every problem with routes.toml and its plugins, at once.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;
use crate::plugin::{CompiledPlugin, PluginEngine};

pub async fn check(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let engine = PluginEngine::new(1)?;
    let problems = tokio::task::spawn_blocking(move || {
        config
            .plugins
            .values()
            .filter_map(|plugin| {
                let error = CompiledPlugin::load(&engine, &plugin.wasm).err()?;
                Some(format!(
                    "{}: plugin {:?}: {error}",
                    plugin.wasm_location, plugin.name
                ))
            })
            .collect::<Vec<_>>()
    })
    .await?;
    if problems.is_empty() {
        println!("{}: ok", config_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    Ok(ExitCode::FAILURE)
}
