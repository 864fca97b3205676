//! caseledger-projections: read models rebuilt from the log. Filled by issue 5.
