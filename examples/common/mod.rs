//! Code the examples share (`mod common;` in an example): the data sets of `examples/data/`.

pub mod data;
