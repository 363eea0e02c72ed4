//! A cache prefetch hint, for the passes that visit memory out of order:
//! building records in seq order from a trail stored CPU by CPU, and the
//! timeline, which prints records CPU by CPU from a list sorted by seq.
//! A cache miss per record is most of such a pass's time otherwise.

/// Starts loading the two cache lines at `p` (a hint: nothing is read
/// that the program sees). A no-op where there is no prefetch instruction
/// to ask for.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = p.cast::<i8>();
        // SAFETY: a prefetch cannot fault, whatever the address, and has
        // no effect the program can observe but timing.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
