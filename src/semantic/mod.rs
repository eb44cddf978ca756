//! The governed semantic layer: metrics.yaml loaded in two phases (raw serde -> validated
//! model), its join graph as the planner reads it (`graph`) and the compiler from
//! `MetricQuery` to SQL.

pub mod compile;
pub mod grain;
pub mod graph;
pub mod model;
pub mod query;
pub mod raw;
pub mod timespine;
pub mod verify;

pub use compile::{compile, Column, ColumnRole, CompileError, CompileOptions, CompiledQuery};
pub use model::{Metric, MetricKind, SemanticLayer, Unit};
pub use query::{Condition, Filter, Grain, Literal, MetricQuery, Op, OrderBy, TimeRange};
