//! A queue's workers in one process: one dispatcher claims as many rows as there are idle
//! workers (one round-trip per batch) and runs each claimed row on its own task.

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
/// stops claiming and waits for the handlers in flight.
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
        let idle = Arc::new(tokio::sync::Semaphore::new(pool.workers.max(1)));
        let wake = queue.wake_handle();
        let mut running = tokio::task::JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            let first = tokio::select! {
                p = idle.clone().acquire_owned() => p.expect("never closed"),
                _ = stop.changed() => continue,
            };
            let mut permits = vec![first];
            while permits.len() < pool.max_batch.max(1) {
                match idle.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
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
            match queue.claim(&owner, permits.len(), pool.lease).await {
                Ok(claimed) if !claimed.is_empty() => {
                    for (row, permit) in claimed.into_iter().zip(permits.drain(..)) {
                        let handle = handle.clone();
                        running.spawn(async move {
                            handle(row).await;
                            drop(permit);
                        });
                    }
                    drop(permits);
                    while running.try_join_next().is_some() {}
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(queue = queue.spec().name, error = %e, "cannot claim from the queue")
                }
            }
            drop(permits);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(pool.poll) => {}
                _ = stop.changed() => {}
            }
        }
        while running.join_next().await.is_some() {}
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
