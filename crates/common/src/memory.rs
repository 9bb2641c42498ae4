//! Giving memory back to the system after a large transfer.
//!
//! glibc's malloc keeps what a thread frees in that thread's arena for
//! reuse and returns it to the system only when a free region sits at the
//! top of the arena's heap. A large upload or download moves its buffers
//! between threads (network, hashing, disk), and afterwards 20–70 MiB of
//! free chunks stayed with the process although nothing used them: an
//! idle server grew with every transfer. `malloc_trim(0)` hands the free
//! pages of every arena back, and is called once a transfer's buffers are
//! gone.

/// Returns free heap pages to the system (a no-op where the C library is
/// not glibc).
#[allow(unsafe_code)]
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own
    // arenas under their locks; any thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// [`trim`] on the blocking pool when called inside a tokio runtime (it
/// takes the arenas' locks and may take a few milliseconds), else here.
pub fn trim_soon() {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn_blocking(trim);
        }
        Err(_) => trim(),
    }
}
