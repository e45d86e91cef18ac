//! Memory allocation: mimalloc for Rust and for tree-sitter's C code.
//!
//! A scan allocates many small fact nodes per file, and tree-sitter many subtrees, on every
//! worker thread; mimalloc's per-thread free lists made the benchmark (benches/scan.rs)
//! about 20% faster end to end than the system allocator, for about 60 MB more peak memory.

use std::ffi::c_void;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's C entry points, linked through the mimalloc crate.
unsafe extern "C" {
    fn mi_malloc(size: usize) -> *mut c_void;
    fn mi_calloc(count: usize, size: usize) -> *mut c_void;
    fn mi_realloc(pointer: *mut c_void, size: usize) -> *mut c_void;
    fn mi_free(pointer: *mut c_void);
}

/// Makes tree-sitter allocate with mimalloc too (the global allocator does not cover C).
///
/// # Safety
/// Call once, before any tree-sitter object exists and before other threads start.
pub unsafe fn install_for_parsers() {
    let allocator = tree_sitter::Allocator { malloc: mi_malloc, calloc: mi_calloc, realloc: mi_realloc, free: mi_free };
    // SAFETY: the four functions are one allocator family and align like malloc; the
    // caller guarantees no tree-sitter object exists yet and no other thread runs.
    unsafe { tree_sitter::set_allocator(Some(allocator)) };
}
