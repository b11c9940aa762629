//! The classic ELIZA plugin.
