//! Test support for the kinds' plan tests: in-memory live state, stacks from TOML text.
