//! Cranelift's per-function compilation cache: rules built by the same toolchain share most
//! of their code (CPython, QuickJS, the SDKs), so a function compiled for one is reused by all.
//!
//! Keys are Cranelift's own hashes of a function's compiled form and its target settings, and
//! each entry carries Cranelift's version marker, so an entry can only ever be reused for an
//! identical function: sharing between tenants reveals nothing a rule did not already contain.
//! Entries are machine code the server will run: the directory must be writable by the
//! server alone, as its database is.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Where compiled functions are kept, and how many bytes of them at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileCacheConfig {
    /// `None`: in this process's memory, lost on restart.
    pub dir: Option<PathBuf>,
    /// Entries past this total are not stored (compiling still works, only slower).
    pub max_bytes: u64,
}

impl Default for CompileCacheConfig {
    fn default() -> Self {
        CompileCacheConfig {
            dir: None,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Enough for the compiled functions of a few toolchain versions (CPython's are ~60 MB).
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;

#[derive(Debug, thiserror::Error)]
#[error("compile cache directory {dir}: {source}")]
pub struct CompileCacheError {
    dir: String,
    source: std::io::Error,
}

/// Counters since the cache was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub stored: u64,
    pub bytes: u64,
}

#[derive(Debug)]
pub struct FunctionCache {
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    max_bytes: u64,
    bytes: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
    full_reported: AtomicBool,
}

impl FunctionCache {
    /// Opens (creating) the directory and counts what it already holds against the limit.
    pub fn open(config: &CompileCacheConfig) -> Result<Self, CompileCacheError> {
        let mut bytes = 0;
        if let Some(dir) = &config.dir {
            let fail = |source| CompileCacheError {
                dir: dir.display().to_string(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(fail)?;
            for entry in std::fs::read_dir(dir).map_err(fail)? {
                let entry = entry.map_err(fail)?;
                if entry.file_type().map_err(fail)?.is_dir() {
                    for file in std::fs::read_dir(entry.path()).map_err(fail)?.flatten() {
                        bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
                    }
                }
            }
        }
        Ok(FunctionCache {
            dir: config.dir.clone(),
            memory: Mutex::new(HashMap::new()),
            max_bytes: config.max_bytes,
            bytes: AtomicU64::new(bytes),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            full_reported: AtomicBool::new(false),
        })
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }

    fn path(dir: &Path, key: &[u8]) -> PathBuf {
        let name = hex::encode(key);
        let (shard, rest) = name.split_at(2.min(name.len()));
        dir.join(shard).join(rest)
    }

    fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        match &self.dir {
            Some(dir) => std::fs::read(Self::path(dir, key)).ok(),
            None => self
                .memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(key)
                .cloned(),
        }
    }

    /// Writes to a unique temporary name and renames, so that replicas or processes sharing
    /// the directory never read half an entry.
    fn write(dir: &Path, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        let path = Self::path(dir, key);
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
        tmp.write_all(value)?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let found = self.lookup(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found.map(Cow::Owned)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        // Two compiles (or two replicas) may store the same function: it is kept, and
        // counted, once.
        let known = match &self.dir {
            Some(dir) => Self::path(dir, key).exists(),
            None => self
                .memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(key),
        };
        if known {
            return true;
        }
        let size = value.len() as u64;
        let before = self.bytes.fetch_add(size, Ordering::Relaxed);
        if before + size > self.max_bytes {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            if !self.full_reported.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    max_bytes = self.max_bytes,
                    "the rule compile cache is full (rules_compile_cache_bytes): new functions are compiled but not kept"
                );
            }
            return false;
        }
        let kept = match &self.dir {
            Some(dir) => match Self::write(dir, key, &value) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, dir = %dir.display(), "cannot write to the rule compile cache");
                    false
                }
            },
            None => {
                self.memory
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key.to_vec(), value);
                true
            }
        };
        if kept {
            self.stored.fetch_add(1, Ordering::Relaxed);
        } else {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::CacheStore;

    #[test]
    fn entries_round_trip_in_memory_and_on_disk_and_the_limit_holds() {
        let dir = tempfile::tempdir().unwrap();
        for config in [
            CompileCacheConfig {
                dir: None,
                max_bytes: 10,
            },
            CompileCacheConfig {
                dir: Some(dir.path().join("cache")),
                max_bytes: 10,
            },
        ] {
            let cache = FunctionCache::open(&config).unwrap();
            assert!(cache.get(b"k1").is_none());
            assert!(cache.insert(b"k1", vec![1; 6]));
            assert_eq!(cache.get(b"k1").as_deref(), Some(&[1u8; 6][..]));
            // Stored again (a second compile of the same function): kept and counted once.
            assert!(cache.insert(b"k1", vec![1; 6]));
            // 6 + 6 > 10: refused, and the first entry is still there.
            assert!(!cache.insert(b"k2", vec![2; 6]));
            assert!(cache.get(b"k2").is_none());
            assert_eq!(
                cache.stats(),
                CacheStats {
                    hits: 1,
                    misses: 2,
                    stored: 1,
                    bytes: 6
                }
            );
        }
        // A directory survives the process: reopened, it still answers and counts its bytes.
        let again = FunctionCache::open(&CompileCacheConfig {
            dir: Some(dir.path().join("cache")),
            max_bytes: 10,
        })
        .unwrap();
        assert_eq!(again.stats().bytes, 6);
        assert!(again.get(b"k1").is_some());
    }
}
