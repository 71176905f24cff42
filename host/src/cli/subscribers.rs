//! `wasmhook subscribers list|retry-dead|enable`: subscribers, their circuits, and sending
//! their dead letters again.

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
    /// Resume a subscriber disabled by a `410 Gone`.
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
        SubscribersCommand::RetryDead { name, admin } => {
            AdminClient::new(admin)?
                .post(&format!("/api/subscribers/{name}/retry-dead"))
                .await?
        }
        SubscribersCommand::Enable { name, admin } => {
            AdminClient::new(admin)?
                .post(&format!("/api/subscribers/{name}/enable"))
                .await?
        }
    };
    print(&answer);
    Ok(ExitCode::SUCCESS)
}
