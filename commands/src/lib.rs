//! caseledger-commands: command types, roles, authorisation and the handler. Filled by issue 3.
