//! Other semantic layers in and out of metrics.yaml: dbt MetricFlow (`cortex import
//! metricflow DIR`, `cortex export metricflow DIR`).

pub mod metricflow;
