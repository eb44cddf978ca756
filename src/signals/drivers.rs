//! Drivers: which members of each governed dimension account for a metric's change between
//! two periods. Additive metrics: each member's delta and its share of the total delta.
//! Ratios, medians and other non-additive metrics: each member's change weighted by its
//! volume (the metric's base count) in the current period.
