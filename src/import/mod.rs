//! Other semantic layers in and out of metrics.yaml: dbt MetricFlow (`cortex import
//! metricflow DIR`, `cortex export metricflow DIR`), and out to Snowflake Cortex Analyst
//! (`cortex export snowflake`).

pub mod metricflow;
pub mod snowflake;
