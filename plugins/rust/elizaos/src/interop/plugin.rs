//! The plugin-side trait and result types.
