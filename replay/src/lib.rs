//! caseledger-replay: case history, as-of, explain, verify, export/import. Filled by issue 6.
