//! Every line of `shared/vectors/handover-public.jsonl` through the real binary
//! (`caseledger policy handover`), comparing the keys each line's `expect` lists.
mod cli_support;
mod support;

#[test]
fn every_public_handover_vector_passes_through_the_cli() {
    let n = support::check_vectors("handover-public.jsonl", "handover");
    assert!(
        n >= 90,
        "expected the full public vector file, read {n} lines"
    );
}
