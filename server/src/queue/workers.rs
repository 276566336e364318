//! A queue's workers in one process: one dispatcher claims rows in batches (one round-trip
//! each) into a small buffer that a fixed set of worker tasks takes from.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Claimed, Queue};

/// How many rows run at once, how many one claim takes, for how long they are leased, and how
/// often an idle dispatcher looks for rows nobody announced (other replicas, ended leases).
#[derive(Debug, Clone, Copy)]
pub struct WorkerPool {
    pub workers: usize,
    pub max_batch: usize,
    pub lease: Duration,
    pub poll: Duration,
}

impl WorkerPool {
    /// `workers` at once, claims of at most `max_batch`, leases of `lease_secs`, looking for
    /// unannounced rows every `poll`.
    pub fn new(workers: usize, max_batch: usize, lease_secs: u64, poll: Duration) -> Self {
        Self {
            workers,
            max_batch,
            lease: Duration::from_secs(lease_secs),
            poll,
        }
    }
}

static CLAIMS: AtomicU64 = AtomicU64::new(0);

/// Runs `pool.workers` concurrent handlers over `queue` until `stop` flips to true; then
/// stops claiming, lets the handlers finish what was claimed, and returns.
///
/// The dispatcher claims ahead into a buffer of at most `max_batch` rows and claims again only
/// once the workers have taken at least half of it (or it ran dry), so under load every claim
/// is a real batch instead of one row per freed worker.
pub fn spawn_workers<H, F>(
    queue: Queue,
    pool: WorkerPool,
    mut stop: tokio::sync::watch::Receiver<bool>,
    handle: H,
) -> tokio::task::JoinHandle<()>
where
    H: Fn(Claimed) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let process = uuid::Uuid::new_v4().simple().to_string();
    tokio::spawn(async move {
        let capacity = pool.max_batch.max(1);
        let refill_at = (capacity / 2).clamp(1, pool.workers.max(1));
        // One permit per free place in the buffer; a worker gives one back as it takes a row.
        let free = Arc::new(tokio::sync::Semaphore::new(capacity));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Claimed>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..pool.workers.max(1) {
            let (rx, free, handle) = (rx.clone(), free.clone(), handle.clone());
            workers.spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(row) = next else { break };
                    free.add_permits(1);
                    handle(row).await;
                }
            });
        }
        let wake = queue.wake_handle();
        loop {
            if *stop.borrow() {
                break;
            }
            let wanted = refill_at as u32;
            let first = tokio::select! {
                p = free.clone().acquire_many_owned(wanted) => p.expect("never closed"),
                _ = stop.changed() => continue,
            };
            first.forget();
            let mut taken = refill_at;
            while taken < capacity {
                match free.try_acquire() {
                    Ok(p) => {
                        p.forget();
                        taken += 1;
                    }
                    Err(_) => break,
                }
            }
            // Register interest before looking, so rows stored meanwhile wake us
            // (`notify_waiters` only wakes futures already enabled).
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let owner = format!(
                "{process}-{}-{}",
                queue.spec().name,
                CLAIMS.fetch_add(1, Ordering::Relaxed)
            );
            let claimed = match queue.claim(&owner, taken, pool.lease).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(queue = queue.spec().name, error = %e, "cannot claim from the queue");
                    Vec::new()
                }
            };
            free.add_permits(taken - claimed.len());
            let got = !claimed.is_empty();
            for row in claimed {
                // The receivers live as long as this task.
                let _ = tx.send(row);
            }
            if got {
                continue;
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(pool.poll) => {}
                _ = stop.changed() => {}
            }
        }
        // What was claimed is still handled; then the workers see the channel close.
        drop(tx);
        while workers.join_next().await.is_some() {}
    })
}

/// Per-ticket locks so two deliveries for one ticket are never processed at the same time in
/// this process (across replicas, the pipeline's ordering check decides).
type LockMap = HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>;

#[derive(Default, Clone)]
pub struct TicketLocks(Arc<Mutex<LockMap>>);

impl TicketLocks {
    pub fn lock_for(&self, tenant: &str, issue: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().expect("ticket locks");
        if map.len() > 10_000 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry((tenant.to_owned(), issue.to_owned()))
            .or_default()
            .clone()
    }
}
