//! Cranelift's incremental compilation cache, kept in memory: the machine code of single
//! functions, keyed by a hash of the compiler's input for them. A new version of a plugin
//! shares most of its functions with the one it replaces (the standard library, serde, the
//! SDK, the WASI adapter), so a hot reload compiles only what changed and the new version
//! serves sooner.
//!
//! Bounded by [`CAPACITY`]: a compile that would pass it empties the cache first, so memory
//! stays flat while the plugins being edited fill it again. Plugins loaded from the compile
//! cache on disk ([`super::cache`]) are not compiled and add nothing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;

use wasmtime::CacheStore;

/// Bytes of cached machine code and metadata kept at most.
const CAPACITY: usize = 16 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct FunctionCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_key: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let entries = self.entries.lock().expect("function cache");
        entries
            .by_key
            .get(key)
            .map(|value| Cow::Owned(value.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let size = key.len() + value.len();
        if size > CAPACITY {
            return false;
        }
        let mut entries = self.entries.lock().expect("function cache");
        if entries.bytes + size > CAPACITY {
            entries.by_key.clear();
            entries.bytes = 0;
        }
        entries.bytes += size;
        if let Some(replaced) = entries.by_key.insert(key.to_vec(), value) {
            entries.bytes -= key.len() + replaced.len();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_is_given() {
        let cache = FunctionCache::default();
        assert!(cache.get(b"f").is_none());
        assert!(cache.insert(b"f", vec![1, 2, 3]));
        assert_eq!(cache.get(b"f").as_deref(), Some(&[1, 2, 3][..]));
        assert!(cache.insert(b"f", vec![4]));
        assert_eq!(cache.get(b"f").as_deref(), Some(&[4][..]));
        assert_eq!(cache.entries.lock().unwrap().bytes, 2);
    }

    #[test]
    fn starts_over_instead_of_growing_past_its_capacity() {
        let cache = FunctionCache::default();
        let half = vec![0; CAPACITY / 2];
        assert!(cache.insert(b"a", half.clone()));
        assert!(cache.insert(b"b", half.clone()));
        assert!(
            cache.get(b"a").is_none(),
            "the first entry went with the overflow"
        );
        assert!(cache.get(b"b").is_some());
        assert!(cache.entries.lock().unwrap().bytes <= CAPACITY);
        assert!(
            !cache.insert(b"c", vec![0; CAPACITY + 1]),
            "too large to keep at all"
        );
        assert!(cache.get(b"b").is_some());
    }
}
