//! Node registry queries. Every function takes the pool (reads) or a write
//! transaction's connection (writes); none of them decides anything.

pub mod nodes;
