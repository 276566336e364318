//! The one in-memory cache type: string keys, values that expire after a fixed time, and a
//! bound on entries (the oldest goes first), so no cache grows with what callers send.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries: max_entries.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.get_at(key, Instant::now())
    }

    pub(crate) fn get_at(&self, key: &str, now: Instant) -> Option<V> {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some((at, v)) if now.duration_since(*at) < self.ttl => Some(v.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, key: &str, value: V) {
        self.put_at(key, value, Instant::now());
    }

    pub(crate) fn put_at(&self, key: &str, value: V, now: Instant) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max_entries && !map.contains_key(key) {
            map.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            if map.len() >= self.max_entries
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(key.to_owned(), (now, value));
    }

    pub fn forget(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_oldest_goes_when_full() {
        let c = TtlCache::new(Duration::from_secs(10), 2);
        let t0 = Instant::now();
        c.put_at("a", 1, t0);
        c.put_at("b", 2, t0 + Duration::from_secs(1));
        assert_eq!(c.get_at("a", t0 + Duration::from_secs(9)), Some(1));
        assert_eq!(c.get_at("a", t0 + Duration::from_secs(10)), None, "expired");
        c.put_at("a", 1, t0 + Duration::from_secs(2));
        c.put_at("c", 3, t0 + Duration::from_secs(3));
        assert_eq!(c.len(), 2, "bounded");
        assert_eq!(
            c.get_at("b", t0 + Duration::from_secs(3)),
            None,
            "oldest evicted"
        );
        assert_eq!(c.get_at("c", t0 + Duration::from_secs(3)), Some(3));
        c.forget("c");
        assert_eq!(c.get_at("c", t0 + Duration::from_secs(3)), None);
    }
}
