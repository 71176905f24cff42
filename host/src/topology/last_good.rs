//! The last good version of each plugin, remembered across restarts.
//!
//! A restart (a reboot, a `kill -9`) may find a plugin's `.wasm` broken: a deploy wrote a bad
//! file while the old version kept serving. The compile cache still holds the machine code of
//! that old version by its sha256, so all the router needs to serve it again is which sha256 it
//! was. `<data_dir>/plugins-last-good.json` keeps that, per plugin name, with the path the
//! version was loaded from: `{"transform": {"path": "/srv/transform.wasm", "sha256": "9f2c..."}}`.
//! It is rewritten (beside, then renamed over) whenever a plugin's file loads a version it did
//! not record. A missing or unreadable record only means that nothing is remembered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE: &str = "plugins-last-good.json";

/// A version of a plugin that loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodVersion {
    pub path: PathBuf,
    pub sha256: String,
}

/// The record in a data dir.
#[derive(Debug, Default)]
pub struct LastGood {
    file: PathBuf,
    versions: BTreeMap<String, GoodVersion>,
}

impl LastGood {
    /// Reads the record of `data_dir`; empty when there is none or it cannot be read.
    pub fn read(data_dir: &Path) -> LastGood {
        let file = data_dir.join(FILE);
        let versions = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(file = %file.display(), %error, "the record of last good plugin versions cannot be read; starting without it");
                BTreeMap::new()
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "the record of last good plugin versions cannot be read; starting without it");
                BTreeMap::new()
            }
        };
        LastGood { file, versions }
    }

    /// The last good version of plugin `name` if it was loaded from `path`: a version of
    /// another file is no stand-in for this one.
    pub fn get(&self, name: &str, path: &Path) -> Option<&GoodVersion> {
        self.versions
            .get(name)
            .filter(|version| version.path == path)
    }

    /// Records the versions that just loaded from their files and forgets plugins no longer
    /// configured; writes the record if that changed it.
    pub fn update<'a>(
        &mut self,
        loaded: impl IntoIterator<Item = (&'a str, GoodVersion)>,
        configured: impl Fn(&str) -> bool,
    ) {
        let mut versions = self.versions.clone();
        versions.retain(|name, _| configured(name));
        for (name, version) in loaded {
            versions.insert(name.to_owned(), version);
        }
        if versions == self.versions {
            return;
        }
        self.versions = versions;
        if let Err(error) = self.write() {
            tracing::warn!(file = %self.file.display(), %error, "cannot record the last good plugin versions; a restart with a broken plugin file will hold its events instead");
        }
    }

    fn write(&self) -> std::io::Result<()> {
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let partial = self.file.with_extension("json.partial");
        let bytes = serde_json::to_vec_pretty(&self.versions).expect("a map of strings serialises");
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, &self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(path: &str, sha: char) -> GoodVersion {
        GoodVersion {
            path: PathBuf::from(path),
            sha256: sha.to_string().repeat(64),
        }
    }

    #[test]
    fn remembers_across_reads_and_forgets_what_is_no_longer_configured() {
        let dir = tempfile::tempdir().unwrap();
        let mut record = LastGood::read(dir.path());
        assert!(record.get("a", Path::new("/a.wasm")).is_none());
        record.update(
            [
                ("a", version("/a.wasm", 'a')),
                ("b", version("/b.wasm", 'b')),
            ],
            |_| true,
        );

        let mut again = LastGood::read(dir.path());
        assert_eq!(
            again.get("a", Path::new("/a.wasm")),
            Some(&version("/a.wasm", 'a'))
        );
        assert!(
            again.get("a", Path::new("/elsewhere.wasm")).is_none(),
            "a version of another file"
        );
        again.update([], |name| name == "b");
        let last = LastGood::read(dir.path());
        assert!(last.get("a", Path::new("/a.wasm")).is_none());
        assert!(last.get("b", Path::new("/b.wasm")).is_some());
    }

    #[test]
    fn an_unreadable_record_remembers_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{ not json").unwrap();
        assert!(LastGood::read(dir.path()).versions.is_empty());
    }
}
