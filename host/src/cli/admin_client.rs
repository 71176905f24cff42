//! The admin API as the CLI's event and message commands reach it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::Value;

use crate::config::Config;

/// Where the admin API is: `--admin`, else `[server] admin` of the config file, else the default.
#[derive(clap::Args, Debug)]
pub struct AdminArgs {
    /// The admin API's base URL, e.g. http://127.0.0.1:8081.
    #[arg(long, env = "WASMHOOK_ADMIN_URL")]
    pub admin: Option<String>,
    /// The admin token (`[server] admin_token`); read from the config file when not given.
    #[arg(long, env = "WASMHOOK_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The routes file to find the admin address and token in.
    #[arg(short, long, default_value = "routes.toml")]
    pub config: PathBuf,
}

pub struct AdminClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl AdminClient {
    pub fn new(args: &AdminArgs) -> anyhow::Result<AdminClient> {
        let config = Config::load(&args.config).ok();
        let server = config.as_ref().map(|config| &config.server);
        let base = match (&args.admin, server.and_then(|server| server.admin)) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(addr)) => format!("http://{}", reached_locally(addr)),
            (None, None) => "http://127.0.0.1:8081".to_owned(),
        };
        let token = args
            .token
            .clone()
            .or_else(|| server.and_then(|server| server.admin_token.clone()));
        Ok(AdminClient {
            base,
            token,
            http: reqwest::Client::new(),
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path).await
    }

    pub async fn post(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::POST, path).await
    }

    async fn call(&self, method: Method, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the admin API at {url}"))?;
        let status = response.status();
        let body: Value = serde_json::from_slice(&response.bytes().await?).unwrap_or(Value::Null);
        if !status.is_success() {
            let message = body["error"].as_str().unwrap_or("no explanation given");
            bail!("{url} answered {status}: {message}");
        }
        Ok(body)
    }
}

/// The address a client on this machine uses for a listener bound to `addr`: one bound to
/// every interface (`0.0.0.0`, `[::]`) is reached on loopback, the host the admin API serves
/// without a token.
fn reached_locally(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

/// Prints an answer as indented JSON.
pub fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_on_every_interface_is_reached_on_loopback() {
        let reached = |addr: &str| reached_locally(addr.parse().unwrap()).to_string();
        assert_eq!(reached("0.0.0.0:8081"), "127.0.0.1:8081");
        assert_eq!(reached("[::]:8081"), "[::1]:8081");
        assert_eq!(reached("10.0.0.5:8081"), "10.0.0.5:8081");
    }
}
