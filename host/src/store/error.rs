//! What can go wrong in either store.

use std::path::PathBuf;

/// Each error's cause is in its message, and none is given as the error's source: an error
/// chain (`{:#}`) would show it twice.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {error}")]
    Open {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error("store: {0}")]
    Sqlite(rusqlite::Error),
    #[error("store: cannot create {path}: {error}")]
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the store is not taking writes (shutting down or overloaded)")]
    Unavailable,
    /// The transaction holding the write could not be committed (a full disk, an I/O error):
    /// nothing of it was written.
    #[error("store: the commit failed: {0}")]
    CommitFailed(String),
    #[error("store: corrupt record: {0}")]
    Corrupt(String),
    /// The shared store failed or could not be reached; the message says which.
    #[error("store (PostgreSQL): {0}")]
    Postgres(String),
    #[error("store: the log in {path}: {error}")]
    Log {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(error)
    }
}

impl StoreError {
    /// The same failure, for each of the writes a failed group commit held: the database's
    /// message as it was, not wrapped in a second prefix.
    pub(super) fn for_each_of_a_group(&self) -> StoreError {
        match self {
            StoreError::Unavailable => StoreError::Unavailable,
            StoreError::Postgres(message) => StoreError::Postgres(message.clone()),
            other => StoreError::CommitFailed(other.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> StoreError {
        // The database's own message (`db error: ERROR: ...`) is in the source only.
        let text = match error.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => error.to_string(),
        };
        StoreError::Postgres(text)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> StoreError {
        StoreError::Postgres(format!("no connection to the database: {error}"))
    }
}
