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
