//! The allocator a rule gets in wasm: every decision runs in a fresh instance that is thrown
//! away afterwards, so memory comes from an arena and is never given back.
//!
//! The arena sits in the module's zero-initialised data, inside the memory it starts with,
//! so a typical decision never grows its memory — growing costs the host a change of page
//! protection on every run. Past the arena, memory grows a chunk at a time (within the
//! tenant's `rules.limits.memory_bytes`). Only the newest block is reused: freed, it is
//! taken back; grown, it grows in place. Build with the `custom-allocator` feature to bring
//! your own `#[global_allocator]` instead.
// An allocator is unsafe by nature (GlobalAlloc is an unsafe trait).
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};

/// How much the arena holds (a 20-comment closure decision takes about a tenth of it).
pub const ARENA_BYTES: usize = 256 << 10;
const PAGE: usize = 64 << 10;
/// Past the arena, memory grows by at least this many pages at a time.
const GROW_PAGES: usize = 16;

#[repr(C, align(16))]
struct Heap(UnsafeCell<[u8; ARENA_BYTES]>);

pub struct Arena {
    heap: Heap,
    /// Where the next block may start and where the current region ends (addresses in
    /// linear memory; 0 before the first allocation).
    next: Cell<usize>,
    end: Cell<usize>,
}

// wasm32-unknown-unknown runs one thread: there is nobody to share the cells with.
unsafe impl Sync for Arena {}

#[global_allocator]
static ARENA: Arena = Arena {
    heap: Heap(UnsafeCell::new([0; ARENA_BYTES])),
    next: Cell::new(0),
    end: Cell::new(0),
};

impl Arena {
    /// Takes at least `bytes` more from the host; `false` when the memory limit says no.
    fn grow(&self, bytes: usize) -> bool {
        let needed = bytes.div_ceil(PAGE);
        for pages in [needed.max(GROW_PAGES), needed] {
            let previous = core::arch::wasm32::memory_grow(0, pages);
            if previous != usize::MAX {
                self.next.set(previous * PAGE);
                self.end.set((previous + pages) * PAGE);
                return true;
            }
        }
        false
    }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.end.get() == 0 {
            let start = self.heap.0.get() as usize;
            self.next.set(start);
            self.end.set(start + ARENA_BYTES);
        }
        let align = layout.align();
        let size = layout.size();
        let fits = |next: usize| {
            let start = next.checked_add(align - 1)? & !(align - 1);
            (start.checked_add(size)? <= self.end.get()).then_some(start)
        };
        let start = match fits(self.next.get()) {
            Some(start) => start,
            None => match size.checked_add(align) {
                Some(bytes) if self.grow(bytes) => match fits(self.next.get()) {
                    Some(start) => start,
                    None => return core::ptr::null_mut(),
                },
                _ => return core::ptr::null_mut(),
            },
        };
        self.next.set(start + size);
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ptr as usize + layout.size() == self.next.get() {
            self.next.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        if start + layout.size() == self.next.get()
            && start
                .checked_add(new_size)
                .is_some_and(|end| end <= self.end.get())
        {
            self.next.set(start + new_size);
            return ptr;
        }
        // SAFETY: the caller's contract for `realloc` is the one `alloc` needs, with the
        // new size; the old block is valid for `layout.size()` bytes.
        unsafe {
            let layout_new = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(layout_new);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
