//! Freeing big values off the loop (Redis's `lazyfree.c` and its bio
//! thread): UNLINK, FLUSHALL/FLUSHDB ASYNC and the `lazyfree-lazy-*`
//! settings hand a value whose freeing takes many steps to a background
//! thread, so the loop answers at once. INFO's `lazyfree_pending_objects`
//! and `lazyfreed_objects` count them.

use crate::db::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

/// Redis's `LAZYFREE_THRESHOLD`: values costing more frees than this go
/// to the background thread.
const THRESHOLD: usize = 64;

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// What the thread drops, and how many objects that counts as.
type Job = (Box<dyn Send>, u64);

static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();

fn queue() -> Option<Sender<Job>> {
    let queue = QUEUE.get_or_init(|| {
        let (sender, receiver) = channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for (garbage, objects) in receiver {
                    drop(garbage);
                    PENDING.fetch_sub(objects, Ordering::Relaxed);
                    FREED.fetch_add(objects, Ordering::Relaxed);
                }
            });
        if let Err(e) = spawned {
            log::warn!("Can't start the lazy free thread: {e}");
        }
        Mutex::new(sender)
    });
    queue.lock().ok().map(|sender| sender.clone())
}

/// How many frees a value takes (Redis's `lazyfreeGetFreeEffort`): its
/// elements for a set, hash or sorted set in table form, its chunks for
/// a list, its nodes and groups' entries for a stream; 1 otherwise.
pub fn free_effort(value: &Value) -> usize {
    match value {
        Value::List(list) if value.encoding() == "quicklist" => list.chunk_count(),
        Value::Set(set) if value.encoding() == "hashtable" => set.len(),
        Value::Hash(hash) if value.encoding() == "hashtable" => hash.len(),
        Value::ZSet(zset) if value.encoding() == "skiplist" => zset.len(),
        Value::Stream(stream) => {
            // The first group's pending entries stand for every group's.
            let groups = stream.groups.len();
            let pending = stream.groups.values().next().map_or(0, |g| g.pending.len());
            stream.node_count() + groups * (1 + pending)
        }
        _ => 1,
    }
}

/// Frees a value deleted from the keyspace: in the background when that
/// takes more than a few steps (Redis's `freeObjAsync`).
pub fn free(value: Value) {
    if free_effort(&value) <= THRESHOLD {
        return;
    }
    send(Box::new(value), 1);
}

/// Frees a whole database's contents in the background (FLUSHALL and
/// FLUSHDB ASYNC), counted as its keys.
pub fn free_all(contents: Box<dyn Send>, keys: u64) {
    send(contents, keys);
}

fn send(garbage: Box<dyn Send>, objects: u64) {
    PENDING.fetch_add(objects, Ordering::Relaxed);
    let Some(sender) = queue() else {
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        return;
    };
    if let Err(failed) = sender.send((garbage, objects)) {
        // The thread is gone: freed here instead.
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        drop(failed);
    }
}

/// INFO's `lazyfree_pending_objects`.
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// INFO's `lazyfreed_objects`.
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT.
pub fn reset_stats() {
    FREED.store(0, Ordering::Relaxed);
}
