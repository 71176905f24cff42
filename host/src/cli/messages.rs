//! `wasmhook messages list|retry`: dead letters, and sending one again.

use std::process::ExitCode;

use super::admin_client::{AdminArgs, AdminClient, print};

#[derive(clap::Subcommand, Debug)]
pub enum MessagesCommand {
    /// Messages by status: pending, delivered, dead or filtered.
    List {
        #[arg(long, default_value = "dead")]
        status: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Deliver a dead message again.
    Retry {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(command: MessagesCommand) -> anyhow::Result<ExitCode> {
    let answer = match &command {
        MessagesCommand::List {
            status,
            limit,
            admin,
        } => {
            AdminClient::new(admin)?
                .get(&format!("/api/messages?status={status}&limit={limit}"))
                .await?
        }
        MessagesCommand::Retry { id, admin } => {
            AdminClient::new(admin)?
                .post(&format!("/api/messages/{id}/retry"))
                .await?
        }
    };
    print(&answer);
    Ok(ExitCode::SUCCESS)
}
