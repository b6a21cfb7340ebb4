//! A counting global allocator, so `INFO memory` reports what the server
//! really holds (`used_memory`) instead of an estimate. The binary installs
//! it with `#[global_allocator]`; without it the counters stay at zero.
//!
//! Underneath is jemalloc, Redis's allocator. Beside it glibc's malloc
//! costs a forked snapshot a third more copy-on-write memory: `free()`
//! writes into the freed chunk, so every value the parent replaces while
//! the child runs copies a page, where jemalloc keeps that bookkeeping
//! apart from the data.
//!
//! The loop is single-threaded, but the allocator must be `Sync`, so the
//! counters are relaxed atomics: one uncontended add per allocation.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use tikv_jemallocator::Jemalloc;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

pub struct CountingAllocator;

// SAFETY: every call is forwarded to `Jemalloc` unchanged; only counters are
// added around it.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc(layout);
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Jemalloc.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = Jemalloc.alloc_zeroed(layout);
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Jemalloc.realloc(ptr, layout, new_size);
        if !new.is_null() {
            ALLOCATED.fetch_add(new_size, Relaxed);
            ALLOCATED.fetch_sub(layout.size(), Relaxed);
        }
        new
    }
}

/// Bytes currently allocated through the counting allocator.
pub fn allocated_bytes() -> u64 {
    ALLOCATED.load(Relaxed) as u64
}

/// Highest `allocated_bytes` seen by [`note_peak`].
pub fn peak_bytes() -> u64 {
    PEAK.load(Relaxed) as u64
}

/// Records the current allocation as the peak if it is higher; the cron
/// calls this, as Redis samples its peak in `serverCron`.
pub fn note_peak() {
    PEAK.fetch_max(ALLOCATED.load(Relaxed), Relaxed);
}
