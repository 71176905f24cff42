//! `wasmhook health`: asks a running router whether it is ready, for container health checks
//! and scripts where no `curl` is at hand (the container image holds nothing but wasmhook).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

/// The most of an answer printed: `/readyz` answers a few hundred bytes; whatever else the
/// URL names is not read to its end.
const SHOWN: usize = 4096;

/// A slow answer is a failed check; the orchestrator asks again.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// The `/readyz` URL of the router (either listener serves it).
    #[arg(
        long,
        env = "WASMHOOK_HEALTH_URL",
        default_value = "http://127.0.0.1:8080/readyz"
    )]
    pub url: String,
}

/// Exit 0 when `/readyz` answers 200 (ready, or degraded but serving), 1 otherwise; its body
/// is printed either way.
pub async fn run(args: HealthArgs) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let answer = client
        .get(&args.url)
        .send()
        .await
        .with_context(|| format!("asking {}", args.url))?;
    let status = answer.status();
    let body = first_bytes(answer).await;
    println!(
        "{} {}",
        status.as_u16(),
        String::from_utf8_lossy(&body).trim()
    );
    Ok(if status.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The first [`SHOWN`] bytes of `answer`'s body.
async fn first_bytes(mut answer: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < SHOWN
        && let Ok(Some(chunk)) = answer.chunk().await
    {
        body.extend_from_slice(&chunk);
    }
    body.truncate(SHOWN);
    body
}
