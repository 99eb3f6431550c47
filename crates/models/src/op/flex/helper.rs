//! The second core's thread: one per process, started on first use and kept, so that an op call
//! that shares its work does not start a thread (tens of microseconds, and a new thread's
//! allocator heap and scratch pool start empty, so its buffers were page-faulted in afresh on
//! every call). Between jobs it spins briefly, then sleeps until the next job is posted.
//!
//! One caller at a time has it; a caller that finds it taken (another thread's op call, or a
//! call nested inside a job) runs its second half on a scoped thread of its own instead.

use std::cell::UnsafeCell;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;

/// A job with its lifetime erased: [`pair`] does not return before the job has run.
type Job = Box<dyn FnOnce() + Send + 'static>;

struct Helper {
    /// Held by the caller whose job is posted or running.
    taken: AtomicBool,
    job: UnsafeCell<Option<Job>>,
    posted: AtomicUsize,
    done: AtomicUsize,
    thread: Thread,
}

// SAFETY: `job` is written only by the caller holding `taken`, while the helper is idle (every
// earlier post done), and read by the helper only after it sees the post, until it bumps `done`.
unsafe impl Sync for Helper {}

/// Spins on `ready` this many times before sleeping (about 50 µs): op calls of a generation or
/// training loop come back sooner than that, and waking a sleeping thread costs about as much.
const SPINS: u32 = 1 << 14;

fn helper() -> &'static Helper {
    static HELPER: OnceLock<&'static Helper> = OnceLock::new();
    HELPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<&'static Helper>();
        let thread = std::thread::Builder::new()
            .name("rnnlab-op-helper".into())
            .spawn(move || serve(rx.recv().expect("the helper's state")))
            .expect("start the op's helper thread");
        let helper: &'static Helper = Box::leak(Box::new(Helper {
            taken: AtomicBool::new(false),
            job: UnsafeCell::new(None),
            posted: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            thread: thread.thread().clone(),
        }));
        tx.send(helper).expect("the helper thread is running");
        helper
    })
}

/// The helper thread's loop: run each posted job, then say it is done.
fn serve(helper: &'static Helper) {
    let mut seen = 0;
    loop {
        let mut spins = 0u32;
        while helper.posted.load(Ordering::Acquire) == seen {
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                // A timeout, so that a missed wake-up costs a millisecond, never a hang.
                std::thread::park_timeout(Duration::from_millis(1));
            }
        }
        seen += 1;
        // SAFETY: the caller wrote the job before bumping `posted` (see `Helper`).
        let job = unsafe { (*helper.job.get()).take() }.expect("a posted job");
        job();
        helper.done.store(seen, Ordering::Release);
    }
}

/// Runs `a` on this thread and `b` on the helper thread at the same time (on a scoped thread
/// where the helper is taken); a panic in either is resumed here, after both have ended.
pub(super) fn pair<A, B: Send>(a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send) -> (A, B) {
    let helper = helper();
    if helper
        .taken
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return std::thread::scope(|scope| {
            let b = scope.spawn(b);
            let a = a();
            (a, b.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        });
    }
    let mut out_b: Option<std::thread::Result<B>> = None;
    let slot = Slot(&mut out_b);
    let job = move || {
        let slot = slot;
        let result = std::panic::catch_unwind(AssertUnwindSafe(b));
        // SAFETY: `out_b` outlives the job (`pair` waits for `done` before it returns).
        unsafe { *slot.0 = Some(result) };
    };
    let job: Box<dyn FnOnce() + Send + '_> = Box::new(job);
    // SAFETY: the job's borrows outlive its run: `Wait` below keeps this frame alive (also
    // when `a` panics) until the helper has finished it.
    let job: Job = unsafe { std::mem::transmute(job) };
    // SAFETY: this caller holds `taken` and the helper is idle.
    unsafe { *helper.job.get() = Some(job) };
    let ticket = helper.posted.fetch_add(1, Ordering::AcqRel) + 1;
    helper.thread.unpark();
    struct Wait(&'static Helper, usize);
    impl Drop for Wait {
        fn drop(&mut self) {
            while self.0.done.load(Ordering::Acquire) < self.1 {
                std::hint::spin_loop();
            }
            self.0.taken.store(false, Ordering::Release);
        }
    }
    let wait = Wait(helper, ticket);
    let a = a();
    drop(wait);
    let b = out_b.expect("the helper ran the job");
    (a, b.unwrap_or_else(|e| std::panic::resume_unwind(e)))
}

/// Where the helper's job writes its result.
struct Slot<B>(*mut Option<std::thread::Result<B>>);

// SAFETY: the pointer is written once, by the job, while the caller only waits for it.
unsafe impl<B: Send> Send for Slot<B> {}

#[cfg(test)]
mod tests {
    use super::pair;

    #[test]
    fn both_halves_run_and_panics_come_back() {
        for i in 0..200 {
            let data = vec![i; 1000];
            let (a, b) = pair(|| data.iter().sum::<usize>(), || data.len() + i);
            assert_eq!((a, b), (1000 * i, 1000 + i));
        }
        let caught = std::panic::catch_unwind(|| pair(|| 1, || -> usize { panic!("half") }));
        assert!(caught.is_err(), "the helper's panic was lost");
        // The helper is free again and nested calls fall back to scoped threads.
        let ((x, y), z) = pair(|| pair(|| 1, || 2), || 3);
        assert_eq!((x, y, z), (1, 2, 3));
    }
}
