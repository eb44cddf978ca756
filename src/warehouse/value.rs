//! Result cells as raw values: numbers unrounded, dates as ISO `YYYY-MM-DD`.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use duckdb::types::{TimeUnit, Value as Db};
use serde::{Serialize, Serializer};

/// One cell of a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            Value::Timestamp(t) => Some(t.date()),
            _ => None,
        }
    }

    pub(crate) fn from_duckdb(v: Db) -> Value {
        match v {
            Db::Null => Value::Null,
            Db::Boolean(b) => Value::Bool(b),
            Db::TinyInt(i) => Value::Int(i.into()),
            Db::SmallInt(i) => Value::Int(i.into()),
            Db::Int(i) => Value::Int(i.into()),
            Db::BigInt(i) => Value::Int(i),
            Db::HugeInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
            Db::UHugeInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
            Db::UTinyInt(i) => Value::Int(i.into()),
            Db::USmallInt(i) => Value::Int(i.into()),
            Db::UInt(i) => Value::Int(i.into()),
            Db::UBigInt(i) => i64::try_from(i).map_or(Value::Float(i as f64), Value::Int),
            Db::Float(f) => Value::Float(f.into()),
            Db::Double(f) => Value::Float(f),
            Db::Decimal(d) => d
                .to_string()
                .parse::<f64>()
                .map_or(Value::Text(d.to_string()), Value::Float),
            Db::Text(s) | Db::Enum(s) => Value::Text(s),
            Db::Date32(days) => NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|e| e.checked_add_signed(chrono::Duration::days(days.into())))
                .map_or(Value::Null, Value::Date),
            Db::Timestamp(unit, n) => {
                let micros = match unit {
                    TimeUnit::Second => n.saturating_mul(1_000_000),
                    TimeUnit::Millisecond => n.saturating_mul(1_000),
                    TimeUnit::Microsecond => n,
                    TimeUnit::Nanosecond => n / 1_000,
                };
                DateTime::from_timestamp_micros(micros)
                    .map_or(Value::Null, |t| Value::Timestamp(t.naive_utc()))
            }
            other => Value::Text(format!("{other:?}")),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(_) => s.serialize_none(),
            Value::Text(t) => s.serialize_str(t),
            Value::Date(d) => s.serialize_str(&d.format("%Y-%m-%d").to_string()),
            Value::Timestamp(t) => s.serialize_str(&t.format("%Y-%m-%dT%H:%M:%S").to_string()),
        }
    }
}

/// Reads the JSON form back (answers stored in the state database): ISO dates and
/// timestamps become dates again; other strings stay text.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.as_f64().map_or(Value::Null, Value::Float),
            },
            serde_json::Value::String(s) => {
                if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
                    Value::Date(d)
                } else if let Ok(t) = NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S") {
                    Value::Timestamp(t)
                } else {
                    Value::Text(s)
                }
            }
            other => Value::Text(other.to_string()),
        })
    }
}
