//! Data parallelism on the cores there are, with scoped threads: no thread pool and no
//! dependency for the two or three places where a large list is mapped on a critical path
//! (`inspect`'s dependency graph on a 1,000-package workspace).

/// Below this many items a list is mapped on the calling thread: a thread's start costs more.
const MIN_PER_THREAD: usize = 256;

/// The most threads a map uses.
const MAX_THREADS: usize = 4;

/// Which cores a map may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cores {
    /// Every core: the caller waits for the map.
    All,
    /// The calling thread's only: other work that matters more runs beside (the build's
    /// `cargo build`, which a thread more would only take a core from).
    One,
}

/// `items.iter().map(f).collect()`, in order. With [`Cores::All`] the list is cut into as
/// many contiguous pieces as there are cores (at most [`MAX_THREADS`]), each mapped on a
/// thread of its own. A panic in `f` is resumed on the caller's thread.
pub fn map<T, U, F>(items: &[T], cores: Cores, f: F) -> Vec<U>
where
    T: Sync,
    U: Send,
    F: Fn(&T) -> U + Sync,
{
    if cores == Cores::One {
        return items.iter().map(f).collect();
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_THREADS)
        .min(items.len() / MIN_PER_THREAD)
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let mut pieces = items.chunks(per);
        // The first piece is mapped here, the others on their threads.
        let first = pieces.next().unwrap_or_default();
        let handles: Vec<_> = pieces
            .map(|piece| s.spawn(move || piece.iter().map(f).collect::<Vec<U>>()))
            .collect();
        let mut out: Vec<U> = Vec::with_capacity(items.len());
        out.extend(first.iter().map(f));
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_in_order_whatever_the_length() {
        for n in [0, 1, 255, 256, 513, 1000, 4099] {
            let items: Vec<usize> = (0..n).collect();
            let doubled = map(&items, Cores::All, |i| i * 2);
            assert_eq!(doubled, map(&items, Cores::One, |i| i * 2));
            assert_eq!(
                doubled,
                items.iter().map(|i| i * 2).collect::<Vec<_>>(),
                "{n}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "item 700")]
    fn a_panic_reaches_the_caller() {
        let items: Vec<usize> = (0..1000).collect();
        map(&items, Cores::All, |&i| {
            if i == 700 { panic!("item {i}") } else { i }
        });
    }
}
