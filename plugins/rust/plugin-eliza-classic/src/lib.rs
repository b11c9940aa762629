//! The classic ELIZA plugin.

pub mod engine;
