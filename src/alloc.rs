//! Memory allocation: mimalloc for Rust and for tree-sitter's C code.
//!
//! A scan allocates many small fact nodes per file, and tree-sitter many subtrees, on every
//! worker thread; mimalloc's per-thread free lists made the benchmark (benches/scan.rs)
//! about 20% faster end to end than the system allocator. Left at its defaults it also kept
//! about 60 MB more memory; purging freed pages at once and committing arenas lazily brings
//! peak memory back below the system allocator's at the same speed.

use std::ffi::c_void;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's C entry points, linked through the mimalloc crate.
unsafe extern "C" {
    fn mi_malloc(size: usize) -> *mut c_void;
    fn mi_calloc(count: usize, size: usize) -> *mut c_void;
    fn mi_realloc(pointer: *mut c_void, size: usize) -> *mut c_void;
    fn mi_free(pointer: *mut c_void);
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

// `mi_option_e` values, the same in the v2 and v3 headers the mimalloc crate builds.
const MI_OPTION_ARENA_EAGER_COMMIT: std::ffi::c_int = 4;
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Tunes mimalloc before anything allocates: arenas committed on demand, freed pages purged
/// at once. The arena setting only applies to arenas created after it, and the first one is
/// created by the first allocation, before `main`; so on Linux this runs as a constructor.
extern "C" fn tune_allocator() {
    // SAFETY: setting documented options; runs before any other code of this process.
    unsafe {
        mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

/// Makes tree-sitter allocate with mimalloc too (the global allocator does not cover C),
/// and tunes mimalloc where no constructor could.
///
/// # Safety
/// Call once, before any tree-sitter object exists and before other threads start.
pub unsafe fn install_for_parsers() {
    if !cfg!(target_os = "linux") {
        tune_allocator();
    }
    let allocator = tree_sitter::Allocator { malloc: mi_malloc, calloc: mi_calloc, realloc: mi_realloc, free: mi_free };
    // SAFETY: the four functions are one allocator family and align like malloc; the
    // caller guarantees no tree-sitter object exists yet and no other thread runs.
    unsafe { tree_sitter::set_allocator(Some(allocator)) };
}
