//! Plan tests for this kind, against in-memory live state (no AWS, no process).
