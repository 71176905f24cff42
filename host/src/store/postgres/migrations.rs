//! The shared store's schema, versioned: each migration runs once, in order, and nodes that
//! start together do not race to apply them.

use tokio_postgres::Client;

use crate::store::error::StoreError;

/// Every version of the schema, in order; a migration is never edited once released, only
/// followed by another.
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("migrations/0001_tables.sql"))];

/// Any number, the same for every node: the key of the advisory lock that makes the nodes
/// starting at once apply the migrations one after another.
const MIGRATION_LOCK: i64 = 0x7761_736d_686f_6f6b; // "wasmhook"

/// Brings the database to the latest schema in one transaction, under a lock that a second
/// node starting at the same moment waits for (and then finds nothing left to do). A database
/// of a newer wasmhook is refused rather than written with an older idea of its tables.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS wasmhook_migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let current: i32 = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM wasmhook_migrations",
            &[],
        )
        .await?
        .get(0);
    let latest = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if current > latest {
        return Err(StoreError::Postgres(format!(
            "the database has schema version {current}, newer than this wasmhook's {latest}: \
             upgrade wasmhook on this node"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tracing::info!(version, "migrating the shared store");
        transaction.batch_execute(sql).await?;
        transaction
            .execute(
                "INSERT INTO wasmhook_migrations (version) VALUES ($1)",
                &[version],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
