//! The allocator of WASM plugins: size-classed free lists in front of the system allocator.
//!
//! Every call through the WASM ABI allocates and frees a few dozen small blocks (the arguments,
//! the parsed JSON, the result and its buffer). `dlmalloc`, std's allocator on
//! `wasm32-unknown-unknown`, spends a good share of a call's time on them; recycling small blocks
//! of the same size class from a free list costs a few instructions. Blocks of up to
//! [`SizeClasses::MAX_SMALL`] bytes are rounded up to a power of two (at least 16) and kept on
//! their class's list when freed; larger blocks and larger alignments go to the system allocator.
//! Freed small blocks are kept for reuse, so the module's footprint is its peak small-block usage.
//!
//! `export_plugin!` installs it as the global allocator of WASM builds. It is only correct without
//! threads: it exists only on `wasm32` without the `atomics` feature.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// Number of size classes: 16, 32, ..., 2048 bytes.
const CLASSES: usize = 8;

/// The free lists, one per size class; each free block holds the pointer to the next.
pub struct SizeClasses {
    heads: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: wasm32 without the atomics feature has exactly one thread.
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    /// Largest block size served from the free lists.
    pub const MAX_SMALL: usize = 16 << (CLASSES - 1);

    /// An allocator with empty free lists.
    pub const fn new() -> Self {
        SizeClasses {
            heads: UnsafeCell::new([std::ptr::null_mut(); CLASSES]),
        }
    }

    /// The class of a layout, or `None` for blocks the system allocator serves.
    fn class(layout: Layout) -> Option<usize> {
        if layout.size() > Self::MAX_SMALL || layout.align() > 16 {
            return None;
        }
        let size = layout.size().max(16).next_power_of_two();
        Some((size.trailing_zeros() - 4) as usize)
    }

    fn class_layout(class: usize) -> Layout {
        // SAFETY: a power of two size of 16..=2048 with align 16 is a valid layout.
        unsafe { Layout::from_size_align_unchecked(16 << class, 16) }
    }
}

impl Default for SizeClasses {
    fn default() -> Self {
        SizeClasses::new()
    }
}

// SAFETY: small blocks are whole class-sized blocks from System, handed out at most once at a
// time (a block is either on one free list or owned by one caller); others go to System as is.
unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = Self::class(layout) else {
            // SAFETY: forwarded contract.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: single-threaded; no other reference to the heads exists during this call.
        let heads = unsafe { &mut *self.heads.get() };
        let head = heads[class];
        if head.is_null() {
            // SAFETY: class layouts have a non-zero size.
            return unsafe { System.alloc(Self::class_layout(class)) };
        }
        // SAFETY: a free block starts with the pointer to the next free block.
        heads[class] = unsafe { head.cast::<*mut u8>().read() };
        head
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(class) = Self::class(layout) else {
            // SAFETY: forwarded contract.
            return unsafe { System.dealloc(ptr, layout) };
        };
        // SAFETY: single-threaded; the block is at least 16 bytes, aligned to 16, and ours.
        unsafe {
            let heads = &mut *self.heads.get();
            ptr.cast::<*mut u8>().write(heads[class]);
            heads[class] = ptr;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees a valid layout for new_size with this alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (Self::class(layout), Self::class(new_layout)) {
            (Some(old), Some(new)) if old == new => ptr,
            // SAFETY: forwarded contract; both blocks are System's own.
            (None, None) => unsafe { System.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: new_layout has a non-zero size (GlobalAlloc::realloc contract).
                let new_ptr = unsafe { self.alloc(new_layout) };
                if !new_ptr.is_null() {
                    // SAFETY: both blocks hold at least min(old, new) bytes and are distinct.
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new_ptr
            }
        }
    }
}
