//! The container image of `cargo xtask dist --image`, run as an operator runs it: routes.toml
//! and a plugin mounted read-only, the store on the image's `/data` volume. A signed event is
//! delivered, a plugin replaced on the host is reloaded inside, the health check passes, and
//! `podman stop` ends it cleanly.
//!
//! Ignored in the normal run (it needs podman and an image build of minutes);
//! `cargo xtask dist --image` builds the image and runs it with `WASMHOOK_IMAGE` set.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::plugins::{copy, replace_atomically};
use crate::common::*;

/// A container of the image under test, removed on drop.
struct Container {
    name: String,
    /// `CONTAINERS_CONF`: see [`podman`].
    conf: tempfile::TempDir,
}

/// `podman` with runc and no default rlimits: the settings some CI sandboxes need to run a
/// container (crun fails there on rlimits and hybrid cgroups). Hosts of users need neither.
fn podman(conf: &Path) -> Command {
    let mut podman = Command::new("podman");
    podman
        .env("CONTAINERS_CONF", conf.join("containers.conf"))
        .args(["--runtime", "runc"]);
    podman
}

fn podman_ok(conf: &Path, args: &[&str]) -> Output {
    let output = podman(conf).args(args).output().expect("running podman");
    assert!(
        output.status.success(),
        "podman {}: {}",
        args.join(" "),
        printed(&output)
    );
    output
}

impl Container {
    /// Starts `image` on the host's network (so that it reaches the subscriber on 127.0.0.1)
    /// with `wiring` mounted read-only at /etc/wasmhook and the environment `env`.
    fn run(image: &str, wiring: &Path, env: &[(&str, &str)]) -> Container {
        let conf = tempfile::tempdir().unwrap();
        std::fs::write(
            conf.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = []\n",
        )
        .unwrap();
        let name = format!("wasmhook-smoke-{}", std::process::id());
        let mount = format!("{}:/etc/wasmhook:ro", wiring.display());
        let mut args = vec![
            "run".to_owned(),
            "--detach".to_owned(),
            format!("--name={name}"),
            "--network=host".to_owned(),
            format!("--volume={mount}"),
        ];
        args.extend(
            env.iter()
                .map(|(key, value)| format!("--env={key}={value}")),
        );
        args.push(image.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        podman_ok(conf.path(), &args);
        Container { name, conf }
    }

    fn podman(&self, args: &[&str]) -> Output {
        podman(self.conf.path())
            .args(args)
            .output()
            .expect("running podman")
    }

    fn logs(&self) -> String {
        printed(&self.podman(&["logs", &self.name]))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "--force", "--volumes", &self.name]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman and the image of `cargo xtask dist --image` (WASMHOOK_IMAGE)"]
async fn the_image_delivers_reloads_and_stops_cleanly() {
    let image = std::env::var("WASMHOOK_IMAGE").expect("WASMHOOK_IMAGE names the image to test");
    let plugins = plugins();
    let wiring = tempfile::tempdir().unwrap();
    let transform = copy(&plugins.github_to_slack, wiring.path(), "transform.wasm");
    let ci = Subscriber::ok().await;
    let (ingest_port, admin_port) = (free_port(), free_port());
    let routes = format!(
        "[server]\nlisten = \"127.0.0.1:{ingest_port}\"\nadmin = \"127.0.0.1:{admin_port}\"\n\
         data_dir = \"/data\"\n\n{}",
        github_to(Path::new("transform.wasm"), &ci).replace(
            &format!("{GITHUB_SECRET:?}"),
            "\"${GITHUB_WEBHOOK_SECRET}\""
        )
    );
    std::fs::write(wiring.path().join("routes.toml"), routes).unwrap();
    // The files are mounted read-only and read by the image's user, who is not their owner.
    for (file, mode) in [
        ("", 0o755),
        ("routes.toml", 0o644),
        ("transform.wasm", 0o644),
    ] {
        let permissions = std::os::unix::fs::PermissionsExt::from_mode(mode);
        std::fs::set_permissions(wiring.path().join(file), permissions).unwrap();
    }
    let base = format!("http://127.0.0.1:{ingest_port}");
    let ingest = Ingest::new(base.clone());

    let started = Instant::now();
    let container = Container::run(
        &image,
        wiring.path(),
        &[
            ("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET),
            ("WASMHOOK_HEALTH_URL", &format!("{base}/readyz")),
        ],
    );
    let http = reqwest::Client::new();
    wait_for(
        "the container's /readyz",
        Duration::from_secs(60),
        async || {
            let answer = http.get(format!("{base}/readyz")).send().await.ok()?;
            answer.status().is_success().then_some(())
        },
    )
    .await;
    println!("ready {:.0?} after `podman run`", started.elapsed());

    let user = container.podman(&["inspect", "--format", "{{.Config.User}}", &container.name]);
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "65532:65532");
    let health = container.podman(&["healthcheck", "run", &container.name]);
    assert!(
        health.status.success(),
        "health check: {}",
        printed(&health)
    );

    let push = async |commits| {
        let body = push_to("main", commits);
        accepted(
            ingest
                .github_event("github", "push", GITHUB_SECRET, &body)
                .await,
        );
    };
    push(2).await;
    let slack = ci.wait_for_requests(1, WAIT).await;
    assert!(slack[0].json()["text"].is_string(), "{:?}", slack[0].json());

    // Deployed on the host, seen inside: the mount is read-only to the container only.
    replace_atomically(&transform, &std::fs::read(&plugins.split_commits).unwrap());
    let admin = format!("http://127.0.0.1:{admin_port}/api/plugins");
    wait_for(
        "the new plugin version inside the container",
        WAIT,
        async || {
            let answer = http.get(&admin).send().await.ok()?.bytes().await.ok()?;
            let plugins: Value = serde_json::from_slice(&answer).ok()?;
            let version = plugins["plugins"].as_array()?.first()?["version"].as_u64()?;
            (version == 2).then_some(())
        },
    )
    .await;
    push(3).await;
    let split = ci.wait_for_requests(4, WAIT).await;
    assert!(
        split[1..]
            .iter()
            .all(|r| r.json()["commit"]["id"].is_string()),
        "the new version splits commits: {:?}",
        split[1..].iter().map(Received::json).collect::<Vec<_>>()
    );

    let stop = container.podman(&["stop", "--time", "20", &container.name]);
    assert!(stop.status.success(), "podman stop: {}", printed(&stop));
    let exit = container.podman(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}",
        &container.name,
    ]);
    let logs = container.logs();
    assert_eq!(String::from_utf8_lossy(&exit.stdout).trim(), "0", "{logs}");
    assert!(
        logs.contains("unfinished work resumes at the next start"),
        "{logs}"
    );
}
