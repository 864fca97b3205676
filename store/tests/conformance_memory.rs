//! The conformance suite against `MemoryStore`.

use std::sync::Arc;

use caseledger_store::{conformance, EventStore, MemoryStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_conformance_suite() {
    conformance::run_all(|clock| async move {
        Arc::new(MemoryStore::new(clock)) as Arc<dyn EventStore>
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn memory_store_concurrency_on_a_single_threaded_runtime() {
    let clock = Arc::new(caseledger_store::ManualClock::new(
        conformance::CLOCK_START_US,
    ));
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new(clock));
    conformance::check_concurrent_appends(&store, 64, 4).await;
}
