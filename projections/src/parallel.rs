//! Work on a few threads, results in order: the shape of every parallel step of a rebuild.
//!
//! A rebuild's results must come out in key order (digests and generations are written in
//! order), while the work behind each result (deriving a batch of streams' rows) is
//! independent. [`map_in_order`] gives item `i` to worker `i mod threads`, each worker sends
//! its results over a channel of one, and the caller's thread takes them from the channels in
//! turn — so in item order — while the workers go on with the next items.

use crate::ProjectionError;

/// Results a worker may have finished but the consumer not yet taken (plus the one it is
/// working on): bounds the memory held in results.
const RESULTS_QUEUED_PER_WORKER_MAX: usize = 1;

/// Run `work` on every item on `threads` threads and hand each result to `consume` on the
/// caller's thread, in item order. Stops at the first error (of `work` or `consume`), which
/// it returns; the workers stop at their next item. A worker's panic is re-raised.
pub(crate) fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> Result<R, ProjectionError> + Sync,
    mut consume: impl FnMut(R) -> Result<(), ProjectionError>,
) -> Result<(), ProjectionError> {
    let threads = threads.clamp(1, items.len().max(1));
    std::thread::scope(|scope| {
        let work = &work;
        let mut channels = Vec::with_capacity(threads);
        for worker in 0..threads {
            let (results, received) = std::sync::mpsc::sync_channel(RESULTS_QUEUED_PER_WORKER_MAX);
            channels.push(received);
            scope.spawn(move || {
                for item in items.iter().skip(worker).step_by(threads) {
                    let result = work(item);
                    let failed = result.is_err();
                    // A send fails only once the consumer stopped (after an error).
                    if results.send(result).is_err() || failed {
                        return;
                    }
                }
            });
        }
        for i in 0..items.len() {
            // A worker sends a result for each of its items unless it panicked (which the
            // scope re-raises when it ends) or failed (which it sent, and which ends this).
            let Ok(result) = channels[i % threads].recv() else {
                break;
            };
            consume(result?)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_item_order_whatever_the_threads() {
        let items: Vec<u32> = (0..100).collect();
        for threads in [1, 2, 3, 7, 200] {
            let mut seen = Vec::new();
            map_in_order(
                &items,
                threads,
                |i| Ok(i * 2),
                |r| {
                    seen.push(r);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_first_error_in_order_is_returned_and_nothing_after_it_is_consumed() {
        let items: Vec<u32> = (0..50).collect();
        let mut seen = Vec::new();
        let result = map_in_order(
            &items,
            2,
            |i| {
                if *i == 17 {
                    Err(ProjectionError::InvalidArgument(format!("item {i}")))
                } else {
                    Ok(*i)
                }
            },
            |r| {
                seen.push(r);
                Ok(())
            },
        );
        assert!(result.unwrap_err().to_string().contains("item 17"));
        assert_eq!(seen, (0..17).collect::<Vec<_>>());
        assert!(map_in_order(&[] as &[u32], 2, |i| Ok(*i), |_| Ok(())).is_ok());
    }
}
