//! A counting global allocator, so `INFO memory` reports what the server
//! really holds (`used_memory`) instead of an estimate. The binary installs
//! it with `#[global_allocator]`; without it the counters stay at zero.
//!
//! Underneath is jemalloc, Redis's allocator (scripts/alloc_bench.py
//! compares it with the C library's malloc, `--features system-malloc`). Beside it glibc's malloc
//! costs a forked snapshot a third more copy-on-write memory: `free()`
//! writes into the freed chunk, so every value the parent replaces while
//! the child runs copies a page, where jemalloc keeps that bookkeeping
//! apart from the data.
//!
//! The loop is single-threaded, but the allocator must be `Sync`, so the
//! counters are relaxed atomics: one uncontended add per allocation.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

#[cfg(feature = "system-malloc")]
use std::alloc::System as Inner;
/// The allocator underneath. `--features system-malloc` builds over the C
/// library's malloc instead, for scripts/alloc_bench.py's comparison.
#[cfg(not(feature = "system-malloc"))]
use tikv_jemallocator::Jemalloc as Inner;

/// `INFO memory`'s `mem_allocator`.
#[cfg(not(feature = "system-malloc"))]
pub const NAME: &str = "jemalloc-5.3.0";
#[cfg(feature = "system-malloc")]
pub const NAME: &str = "libc";

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

pub struct CountingAllocator;

// SAFETY: every call is forwarded to `Inner` unchanged; only counters are
// added around it.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = Inner.alloc(layout);
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Inner.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = Inner.alloc_zeroed(layout);
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Inner.realloc(ptr, layout, new_size);
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

/// jemalloc's own figures (MEMORY STATS): bytes the program holds
/// (`allocated`), in pages in use (`active`), and resident (`resident`).
pub struct AllocatorStats {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
}

#[cfg(not(feature = "system-malloc"))]
pub fn allocator_stats() -> AllocatorStats {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The figures are cached until the epoch advances.
    let _ = epoch::advance();
    AllocatorStats {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
    }
}

/// The C library's figures: `mallinfo2`'s bytes in use, and the bytes it
/// took from the system (heap and mmapped) for both active and resident.
#[cfg(feature = "system-malloc")]
pub fn allocator_stats() -> AllocatorStats {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let info = unsafe { libc::mallinfo2() };
        let taken = (info.arena + info.hblkhd) as u64;
        AllocatorStats {
            allocated: (info.uordblks + info.hblkhd) as u64,
            active: taken,
            resident: taken,
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    AllocatorStats {
        allocated: allocated_bytes(),
        active: allocated_bytes(),
        resident: resident_bytes(),
    }
}

/// The C library's malloc has no report of its own here.
#[cfg(feature = "system-malloc")]
pub fn allocator_report() -> String {
    "Stats not supported for the current allocator\n".to_string()
}

/// Gives free heap memory back to the system (MEMORY PURGE).
#[cfg(feature = "system-malloc")]
pub fn purge() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `jemalloc-bg-thread`: jemalloc's background thread returns dirty pages
/// to the system on time (`dirty_decay_ms`, 10 s) even while the server
/// is idle; without it they go back only as the loop allocates. Redis
/// turns it on the same way. Applied when the setting differs from the
/// last call.
#[cfg(not(feature = "system-malloc"))]
pub fn set_background_thread(on: bool) {
    use std::sync::atomic::AtomicU8;
    // 0: never set, 1: off, 2: on.
    static APPLIED: AtomicU8 = AtomicU8::new(0);
    let want = if on { 2 } else { 1 };
    if APPLIED.swap(want, Relaxed) != want {
        if let Err(e) = tikv_jemalloc_ctl::background_thread::write(on) {
            log::warn!("Failed to set jemalloc background thread: {e}");
        }
    }
}

#[cfg(feature = "system-malloc")]
pub fn set_background_thread(_on: bool) {}

/// jemalloc's statistics report (MEMORY MALLOC-STATS).
#[cfg(not(feature = "system-malloc"))]
pub fn allocator_report() -> String {
    let mut out = Vec::new();
    let options = tikv_jemalloc_ctl::stats_print::Options::default();
    let _ = tikv_jemalloc_ctl::stats_print::stats_print(&mut out, options);
    String::from_utf8_lossy(&out).into_owned()
}

/// Gives dirty pages of every arena back to the system (MEMORY PURGE).
#[cfg(not(feature = "system-malloc"))]
pub fn purge() {
    // `arena.<MALLCTL_ARENAS_ALL>.purge`, a control that takes no value.
    let name = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated control name, and no buffers for a control
    // that reads and writes nothing.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

/// The process's resident set size, from `/proc/self/statm`.
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0);
    pages * 4096
}
