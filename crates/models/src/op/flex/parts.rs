//! How a step is shared by the two cores: disjoint parts of the hidden units (or of the state's
//! columns), a buffer both halves write disjoint ranges of, and the small products on packed
//! weights each half runs.

use std::cell::UnsafeCell;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::small_gemm::{self, Mat, MatMut, Start};

/// Steps whose product `B · G·H · H_out` is at least this large are split over both cores.
pub(super) const PARALLEL_WORK: usize = 1 << 17;

/// A buffer that the two halves of a step write disjoint parts of.
#[derive(Clone, Copy)]
pub(super) struct Shared {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: `Shared` is only used to give the two halves of a split step access to disjoint
// element ranges of one buffer (see `at`), and the buffer outlives the split.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    pub(super) fn new(buffer: &mut [f32]) -> Self {
        Self {
            ptr: buffer.as_mut_ptr(),
            len: buffer.len(),
        }
    }

    /// Elements `start..start + len`.
    ///
    /// # Safety
    /// No other reference to any of these elements may be alive while the slice is.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn at(&self, start: usize, len: usize) -> &mut [f32] {
        assert!(start + len <= self.len, "shared buffer out of bounds");
        // SAFETY: in bounds; exclusivity is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }

    fn ptr(&self, start: usize) -> *mut f32 {
        assert!(start <= self.len, "shared buffer out of bounds");
        // SAFETY: in bounds (one past the end at most).
        unsafe { self.ptr.add(start) }
    }
}

/// `0..n` as the parts a step is split into: two halves for two cores when `parallel` (the
/// split point rounded to a multiple of 16 so that vector blocks stay whole), else one.
#[allow(clippy::single_range_in_vec_init)] // one part holding the whole range is meant
pub(super) fn parts(n: usize, parallel: bool) -> Vec<Range<usize>> {
    if parallel && n >= 32 {
        let mid = (n / 2).div_ceil(16) * 16;
        vec![0..mid, mid..n]
    } else {
        vec![0..n]
    }
}

/// A second core for the duration of one op call: the helper thread (`helper.rs`) waits
/// (spinning) for one half of each step. A step is tens of microseconds of work, less than waking a
/// sleeping thread pool worker costs, so the helper stays awake between steps and is handed
/// its half through two counters.
pub(super) struct Team<'a> {
    slot: Option<&'a Slot>,
}

/// The job the helper runs next.
type Job = &'static (dyn Fn(usize, Range<usize>) + Sync);

struct Slot {
    job: UnsafeCell<Option<(Job, Range<usize>)>>,
    posted: AtomicUsize,
    done: AtomicUsize,
    panicked: AtomicBool,
    quit: AtomicBool,
}

// SAFETY: `job` is written by the caller only while the helper is idle (before `posted` is
// bumped) and read by the helper only after seeing the bump, until it bumps `done`.
unsafe impl Sync for Slot {}

/// Spins until `ready`, then yields to the scheduler if it takes long (an oversubscribed
/// machine).
fn wait_until(ready: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !ready() {
        if spins < 1 << 16 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

thread_local! {
    /// Set while this thread's op calls must stay on it (see [`on_one_core`]).
    static ONE_CORE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every op call it makes on this thread alone (no helper thread), for callers
/// that run several calls at once on different cores.
pub fn on_one_core<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            ONE_CORE.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(ONE_CORE.with(|c| c.replace(true)));
    f()
}

/// The cores the process may use, read once (`available_parallelism` reads the scheduler's
/// affinity and the cgroup quota from files on every call).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether this thread's op calls are held to it by [`on_one_core`].
pub(super) fn held_to_one_core() -> bool {
    ONE_CORE.with(std::cell::Cell::get)
}

/// Runs `a` on this thread and `b` on the helper thread (`helper.rs`) at the same time, both
/// held to their own core ([`on_one_core`]); a panic in either is resumed here.
pub fn one_core_each<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    super::helper::pair(|| on_one_core(a), || on_one_core(b))
}

/// Runs `f` with a [`Team`] of two cores when `parallel` (and the machine has two, and the
/// thread is not held to one by [`on_one_core`]), else with the calling thread alone.
pub(super) fn with_team<R>(parallel: bool, f: impl FnOnce(&Team<'_>) -> R) -> R {
    if !parallel || cores() < 2 || held_to_one_core() {
        return f(&Team { slot: None });
    }
    let slot = Slot {
        job: UnsafeCell::new(None),
        posted: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panicked: AtomicBool::new(false),
        quit: AtomicBool::new(false),
    };
    let slot = &slot;
    // The helper's half: wait for each posted part, run it, say it is done; until told to quit.
    let serve = move || {
        let mut seen = 0;
        loop {
            wait_until(|| slot.posted.load(Ordering::Acquire) > seen);
            seen += 1;
            if slot.quit.load(Ordering::Acquire) {
                return;
            }
            // SAFETY: the caller wrote the job before bumping `posted` and keeps it alive
            // until `done` reaches `seen`.
            let (job, part) = unsafe { (*slot.job.get()).clone() }.expect("a posted job");
            if std::panic::catch_unwind(AssertUnwindSafe(|| job(1, part))).is_err() {
                slot.panicked.store(true, Ordering::Release);
            }
            slot.done.store(seen, Ordering::Release);
        }
    };
    // Stops the helper however `f` ends (a panic included).
    struct Quit<'s>(&'s Slot);
    impl Drop for Quit<'_> {
        fn drop(&mut self) {
            self.0.quit.store(true, Ordering::Release);
            self.0.posted.fetch_add(1, Ordering::AcqRel);
        }
    }
    let lead = move || {
        let _quit = Quit(slot);
        f(&Team { slot: Some(slot) })
    };
    super::helper::pair(lead, serve).0
}

impl Team<'_> {
    /// Runs `f(i, part)` for every part: with two parts and a helper, the second on the
    /// helper while this thread runs the first.
    pub(super) fn run_parts(&self, parts: &[Range<usize>], f: impl Fn(usize, Range<usize>) + Sync) {
        let (Some(slot), [first, second]) = (self.slot, parts) else {
            for (i, part) in parts.iter().enumerate() {
                f(i, part.clone());
            }
            return;
        };
        let job: &(dyn Fn(usize, Range<usize>) + Sync) = &f;
        // SAFETY: the helper only uses `job` until it bumps `done` past this post, and this
        // function does not return (nor unwind, see `Wait`) before that.
        let job: Job = unsafe { std::mem::transmute(job) };
        // SAFETY: the helper is idle (every earlier post is done), so nothing reads the slot.
        unsafe { *slot.job.get() = Some((job, second.clone())) };
        let posted = slot.posted.fetch_add(1, Ordering::AcqRel) + 1;
        // Waits for the helper's half even if this thread's half panics.
        struct Wait<'s>(&'s Slot, usize);
        impl Drop for Wait<'_> {
            fn drop(&mut self) {
                wait_until(|| self.0.done.load(Ordering::Acquire) >= self.1);
            }
        }
        let wait = Wait(slot, posted);
        f(0, first.clone());
        drop(wait);
        assert!(
            !slot.panicked.load(Ordering::Acquire),
            "the helper thread's half of a recurrent step panicked"
        );
    }
}

/// Packs, for every part of a split of `0..n`, the columns `offset + part` of a `[k, ·]`
/// matrix (`(p, j)` at `src[p·rs + j·cs]`).
pub(super) fn pack_parts(
    src: &[f32],
    rs: usize,
    cs: usize,
    k: usize,
    offset: usize,
    parts: &[Range<usize>],
) -> Vec<Vec<f32>> {
    parts
        .iter()
        .map(|part| small_gemm::pack(src, rs, cs, k, offset + part.start, part.len()))
        .collect()
}

/// `C[rows, cols] = start + A · W` through the small-batch kernel, with `W` packed.
#[allow(clippy::too_many_arguments)]
pub(super) fn product(
    rows: usize,
    cols: usize,
    k: usize,
    a: &[f32],
    a_offset: usize,
    lda: usize,
    w: &[f32],
    c: &Shared,
    c_offset: usize,
    ldc: usize,
    start: Start<'_>,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        k == 0 || a_offset + (rows - 1) * lda + k <= a.len(),
        "A out of bounds"
    );
    assert!(
        c_offset + (rows - 1) * ldc + cols <= c.len,
        "C out of bounds"
    );
    // SAFETY: bounds checked above; the caller's split gives this call exclusive use of the
    // destination columns, and `C` is a different buffer from `A` and `W`.
    unsafe {
        small_gemm::gemm(
            rows,
            cols,
            k,
            Mat {
                ptr: a.as_ptr().add(a_offset),
                ld: lda,
            },
            w,
            MatMut {
                ptr: c.ptr(c_offset),
                ld: ldc,
            },
            start,
        );
    }
}
