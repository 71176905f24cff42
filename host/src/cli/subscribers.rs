//! `wasmhook subscribers list|retry-dead|disable|enable`: subscribers, their circuits, sending
//! their dead letters again, and stopping and resuming their deliveries.

use std::process::ExitCode;

use super::admin_client::{AdminArgs, AdminClient, print};

#[derive(clap::Subcommand, Debug)]
pub enum SubscribersCommand {
    /// Every subscriber: whether it is disabled, and its circuit (closed, open, half-open).
    List {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Deliver every dead message of a subscriber again, after a fix on its side; they are
    /// sent at its `rate` and `concurrency`.
    RetryDead {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Stop every delivery to a subscriber, on every node, until it is enabled again; its
    /// messages wait, pending.
    Disable {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Resume a subscriber disabled by a `410 Gone` or by `disable`.
    Enable {
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(command: SubscribersCommand) -> anyhow::Result<ExitCode> {
    let answer = match &command {
        SubscribersCommand::List { admin } => {
            AdminClient::new(admin)?.get("/api/subscribers").await?
        }
        SubscribersCommand::RetryDead { name, admin } => act(admin, name, "retry-dead").await?,
        SubscribersCommand::Disable { name, admin } => act(admin, name, "disable").await?,
        SubscribersCommand::Enable { name, admin } => act(admin, name, "enable").await?,
    };
    print(&answer);
    Ok(ExitCode::SUCCESS)
}

/// `POST /api/subscribers/{name}/{action}`.
async fn act(admin: &AdminArgs, name: &str, action: &str) -> anyhow::Result<serde_json::Value> {
    AdminClient::new(admin)?
        .post(&format!("/api/subscribers/{name}/{action}"))
        .await
}
