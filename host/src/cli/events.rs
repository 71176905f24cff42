//! `wasmhook events list|show|replay`: what happened to events, and running one again.

use std::process::ExitCode;

use super::admin_client::{AdminArgs, AdminClient, print};

#[derive(clap::Subcommand, Debug)]
pub enum EventsCommand {
    /// Recent events, newest first.
    List {
        /// Only events of this source.
        #[arg(long)]
        source: Option<String>,
        /// Only events with this status: received or processed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// One event with its messages and every delivery attempt.
    Show {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Run an event through the current routes and plugins again.
    Replay {
        id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

pub async fn run(command: EventsCommand) -> anyhow::Result<ExitCode> {
    let answer = match &command {
        EventsCommand::List {
            source,
            status,
            limit,
            admin,
        } => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &limit.to_string());
            if let Some(source) = source {
                query.append_pair("source", source);
            }
            if let Some(status) = status {
                query.append_pair("status", status);
            }
            AdminClient::new(admin)?
                .get(&format!("/api/events?{}", query.finish()))
                .await?
        }
        EventsCommand::Show { id, admin } => {
            AdminClient::new(admin)?
                .get(&format!("/api/events/{id}"))
                .await?
        }
        EventsCommand::Replay { id, admin } => {
            AdminClient::new(admin)?
                .post(&format!("/api/events/{id}/replay"))
                .await?
        }
    };
    print(&answer);
    Ok(ExitCode::SUCCESS)
}
