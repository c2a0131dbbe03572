//! Two halves of a batch on two threads: the one helper every parallel step shares.
//!
//! A batch splits where its halves write disjoint state (the arenas and the key index, the
//! block list and the contexts). The halves borrow those parts separately, so safe Rust
//! proves they cannot race, and on one thread the same writes happen in sequence: the result
//! never depends on the thread count.

/// Runs `a` and `b` and returns both results: `b` on another thread when `threads` >= 2
/// (a panic there resumes here, where the engine turns it into an `InternalError`).
pub(crate) fn both<A, B>(
    threads: usize,
    a: impl FnOnce() -> A,
    b: impl FnOnce() -> B + Send,
) -> (A, B)
where
    B: Send,
{
    if threads < 2 {
        let first = a();
        return (first, b());
    }
    std::thread::scope(|scope| {
        let other = scope.spawn(b);
        let first = a();
        let second = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_and_return_on_one_thread_or_two() {
        for threads in [1, 2] {
            let mut left = Vec::new();
            let mut right = Vec::new();
            let (a, b) = both(
                threads,
                || {
                    left.push(1);
                    "a"
                },
                || {
                    right.push(2);
                    7
                },
            );
            assert_eq!((a, b, left, right), ("a", 7, vec![1], vec![2]));
        }
    }

    #[test]
    #[should_panic(expected = "from the other thread")]
    fn a_panic_on_the_other_thread_resumes_on_this_one() {
        both(2, || (), || panic!("from the other thread"));
    }
}
