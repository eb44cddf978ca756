//! The SQL guard: admits one read-only SELECT over declared tables, nothing else.
//!
//! Every query, compiled or analyst-written, passes here before DuckDB sees it. The warehouse
//! connection is also read-only with external access disabled; the guard is the first wall,
//! not the only one.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, Query, SetExpr, Statement, TableFactor, Visit, Visitor};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;

/// Table functions that generate values and read nothing.
const ALLOWED_TABLE_FUNCTIONS: [&str; 3] = ["range", "generate_series", "unnest"];

/// Scalar functions that could reach outside the warehouse or its settings.
const BLOCKED_FUNCTION_PREFIXES: [&str; 14] = [
    "read_",
    "glob",
    "query",
    "sniff_",
    "parquet_",
    "iceberg_",
    "delta_",
    "duckdb_",
    "pragma_",
    "current_setting",
    "getenv",
    "icu_",
    "sqlite_",
    "postgres_",
];

/// Why a query was refused; one sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query refused: {0}")]
pub struct GuardError(pub String);

/// Admits a query, or says why not. `tables` are the tables declared in metrics.yaml.
pub fn check(sql: &str, tables: &BTreeSet<String>) -> Result<(), GuardError> {
    let dialect = DuckDbDialect {};
    let statements = Parser::parse_sql(&dialect, sql)
        .map_err(|e| GuardError(format!("it is not valid SQL ({e})")))?;
    let stmt = match statements.as_slice() {
        [one] => one,
        [] => return Err(GuardError("it is empty".into())),
        _ => return Err(GuardError("only a single statement is allowed".into())),
    };
    let Statement::Query(query) = stmt else {
        return Err(GuardError(format!(
            "only SELECT is allowed, not {}",
            statement_kind(stmt)
        )));
    };
    let mut ctes = CteNames::default();
    let _ = query.visit(&mut ctes);
    let mut v = Checker {
        tables,
        ctes: &ctes.0,
    };
    match query.visit(&mut v) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    text.split_whitespace()
        .next()
        .unwrap_or("that statement")
        .to_ascii_uppercase()
}

#[derive(Default)]
struct CteNames(BTreeSet<String>);

impl Visitor for CteNames {
    type Break = ();
    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.0.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }
}

struct Checker<'a> {
    tables: &'a BTreeSet<String>,
    ctes: &'a BTreeSet<String>,
}

fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_lowercase())
        .unwrap_or_default()
}

impl Checker<'_> {
    fn table_allowed(&self, name: &ObjectName) -> Result<(), GuardError> {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
            .collect::<Option<_>>()
            .ok_or_else(|| GuardError(format!("{name} is not a table")))?;
        let full = parts.join(".");
        let ok = match parts.as_slice() {
            [one] => self.tables.contains(one) || self.ctes.contains(one),
            [schema, one] if schema == "main" => self.tables.contains(one),
            _ => self.tables.contains(&full),
        };
        if ok {
            Ok(())
        } else {
            Err(GuardError(format!(
                "table {name} is not declared in metrics.yaml"
            )))
        }
    }
}

impl Visitor for Checker<'_> {
    type Break = GuardError;

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<GuardError> {
        if let SetExpr::Select(s) = q.body.as_ref() {
            if s.into.is_some() {
                return ControlFlow::Break(GuardError("SELECT ... INTO is not allowed".into()));
            }
        }
        if let Some(with) = &q.with {
            if with.recursive {
                return ControlFlow::Break(GuardError("recursive queries are not allowed".into()));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<GuardError> {
        let res = match tf {
            TableFactor::Table { name, args, .. } => match args {
                Some(_) => {
                    let f = last_part(name);
                    if ALLOWED_TABLE_FUNCTIONS.contains(&f.as_str()) {
                        Ok(())
                    } else {
                        Err(GuardError(format!(
                            "table function {name}() is not allowed"
                        )))
                    }
                }
                None => self.table_allowed(name),
            },
            TableFactor::Derived { .. }
            | TableFactor::NestedJoin { .. }
            | TableFactor::UNNEST { .. } => Ok(()),
            TableFactor::Function { name, .. } => Err(GuardError(format!(
                "table function {name}() is not allowed"
            ))),
            other => Err(GuardError(format!(
                "{} is not allowed in FROM",
                other.to_string().chars().take(40).collect::<String>()
            ))),
        };
        match res {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<GuardError> {
        if let Expr::Function(f) = e {
            let name = last_part(&f.name);
            if BLOCKED_FUNCTION_PREFIXES
                .iter()
                .any(|p| name.starts_with(p))
            {
                return ControlFlow::Break(GuardError(format!(
                    "function {}() is not allowed",
                    f.name
                )));
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> BTreeSet<String> {
        ["tickets", "merchants"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn refused(sql: &str) -> String {
        check(sql, &tables()).expect_err(sql).0
    }

    #[test]
    fn admits_selects_over_declared_tables() {
        for sql in [
            "SELECT count(*) FROM tickets",
            "SELECT m.segment, count(*) FROM tickets t JOIN merchants m USING (merchant_id) GROUP BY 1",
            "WITH x AS (SELECT * FROM tickets) SELECT * FROM x",
            "SELECT * FROM main.tickets",
            "SELECT * FROM (SELECT UNNEST(generate_series(1, 3)) AS b) s",
            "SELECT * FROM range(10) r(x)",
            "SELECT 1",
        ] {
            assert_eq!(check(sql, &tables()), Ok(()), "{sql}");
        }
    }

    #[test]
    fn refuses_writes_ddl_and_side_effects() {
        assert!(refused("DROP TABLE tickets").contains("only SELECT"));
        assert!(refused("DELETE FROM tickets").contains("only SELECT"));
        assert!(refused("INSERT INTO tickets VALUES (1)").contains("only SELECT"));
        assert!(refused("CREATE TABLE x AS SELECT 1").contains("only SELECT"));
        assert!(refused("UPDATE tickets SET status = 'x'").contains("only SELECT"));
        assert!(refused("ATTACH 'x.db' AS x").contains("only SELECT"));
        assert!(refused("COPY tickets TO 'out.csv'").contains("only SELECT"));
        assert!(refused("PRAGMA database_list").contains("only SELECT"));
        assert!(
            refused("INSTALL httpfs").contains("only SELECT")
                || refused("INSTALL httpfs").contains("not valid")
        );
        assert!(
            refused("LOAD httpfs").contains("only SELECT")
                || refused("LOAD httpfs").contains("not valid")
        );
        assert!(refused("SET threads = 1").contains("only SELECT"));
    }

    #[test]
    fn refuses_multiple_statements_and_undeclared_tables() {
        assert!(refused("SELECT 1; DROP TABLE tickets").contains("single statement"));
        assert!(refused("SELECT * FROM secrets").contains("not declared"));
        assert!(refused("SELECT * FROM other_db.main.tickets").contains("not declared"));
        assert!(
            refused("SELECT * FROM tickets WHERE merchant_id IN (SELECT x FROM secrets)")
                .contains("not declared")
        );
        assert!(refused("SELECT * FROM 'data.csv'").contains("not declared"));
    }

    #[test]
    fn refuses_file_readers_and_settings() {
        assert!(refused("SELECT * FROM read_csv('/etc/passwd')").contains("table function"));
        assert!(refused("SELECT * FROM query('DROP TABLE tickets')").contains("table function"));
        assert!(refused("SELECT * FROM duckdb_settings()").contains("table function"));
        assert!(refused("SELECT current_setting('threads')").contains("function"));
        assert!(refused("SELECT read_text('/etc/passwd')").contains("function"));
        assert!(
            refused("SELECT 1 INTO t").contains("INTO")
                || refused("SELECT 1 INTO t").contains("not")
        );
        assert!(refused("").contains("empty"));
        assert!(refused("SELEC 1").contains("not valid SQL"));
    }
}
