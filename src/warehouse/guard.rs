//! The SQL guard: admits one read-only SELECT over declared tables, nothing else.
//!
//! Every query, compiled or analyst-written, passes here before DuckDB sees it. Names are
//! resolved the way DuckDB resolves them: a CTE name covers only the references in its own
//! WITH scope (the later CTEs of that WITH and the query body), never its own body, so a CTE
//! named after a table cannot smuggle the table in. Names that could shadow DuckDB's system
//! catalog (`duckdb_*`, `sqlite_*`, `pg_*`, `pragma_*`, `information_schema`) are refused
//! wherever they appear. Only unqualified names are admitted: the warehouse is reached through
//! per-scope views (see `catalog.rs`), so a schema-qualified name could step outside the
//! asker's scope.
//!
//! The guard is the first wall, not the only one: the connection it hands the query to sees
//! only views over the declared tables, is read-only, and has external access disabled.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, ObjectName, Query, SetExpr, Statement, TableAlias, TableFactor, Visit, Visitor,
};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

/// Table functions that generate values and read nothing.
const ALLOWED_TABLE_FUNCTIONS: [&str; 3] = ["range", "generate_series", "unnest"];

/// Scalar functions that could reach outside the warehouse or its settings.
const BLOCKED_FUNCTION_PREFIXES: [&str; 23] = [
    // Build one huge value in a single call, which neither the memory limit nor the
    // interrupt can stop part-way.
    "repeat",
    "lpad",
    "rpad",
    "list_resize",
    "array_resize",
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
    "pg_",
    "has_",
    "enum_",
    "which_secret",
];

/// The longest list a scalar `range()` / `generate_series()` may build.
const MAX_SCALAR_LIST: f64 = 100_000.0;

/// Elements of `range(args)` (`generate_series` has one more; close enough for a cap) when
/// every argument is a number literal.
fn list_length(args: &[String]) -> Option<f64> {
    let n: Vec<f64> = args
        .iter()
        .map(|a| a.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<Vec<f64>>>()?;
    let (start, end, step) = match n.as_slice() {
        [end] => (0.0, *end, 1.0),
        [start, end] => (*start, *end, 1.0),
        [start, end, step] if *step != 0.0 => (*start, *end, *step),
        _ => return None,
    };
    Some(((end - start) / step).max(0.0) + 1.0)
}

/// Name prefixes of DuckDB's system catalog; no CTE, alias or table may use them.
const SYSTEM_PREFIXES: [&str; 6] = [
    "duckdb_",
    "sqlite_",
    "pg_",
    "pragma_",
    "information_schema",
    "system",
];

/// Longest SQL text the guard looks at; compiled queries are far shorter.
pub const MAX_SQL_LEN: usize = 100_000;

/// Why a query was refused; one sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query refused: {0}")]
pub struct GuardError(pub String);

/// Admits a query, or says why not. `tables` are the tables declared in metrics.yaml
/// (lower case).
pub fn check(sql: &str, tables: &BTreeSet<String>) -> Result<(), GuardError> {
    if sql.len() > MAX_SQL_LEN {
        return Err(GuardError(format!(
            "it is longer than {MAX_SQL_LEN} characters"
        )));
    }
    let dialect = DuckDbDialect {};
    same_reading(&dialect, sql)?;
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
    let mut v = Checker {
        tables,
        scopes: Vec::new(),
    };
    match query.visit(&mut v) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Admits a query and returns the SQL to execute: the query wrapped so DuckDB stops after
/// `max_rows + 1` rows (one more than the cap, so a cut result is detected) instead of
/// building the whole result first.
pub fn admit(sql: &str, tables: &BTreeSet<String>, max_rows: usize) -> Result<String, GuardError> {
    check(sql, tables)?;
    let body = without_trailing_semicolon(sql);
    Ok(format!(
        "SELECT * FROM (\n{body}\n) AS cortex_capped LIMIT {}",
        max_rows.saturating_add(1)
    ))
}

/// The query without a final `;` and whatever comments follow it ("SELECT 1; -- note"), cut
/// from the original text at the semicolon's position (the text itself is never re-rendered).
fn without_trailing_semicolon(sql: &str) -> &str {
    let Ok(tokens) = Tokenizer::new(&DuckDbDialect {}, sql).tokenize_with_location() else {
        return sql.trim();
    };
    let mut cut = None;
    for t in tokens.iter().rev() {
        match &t.token {
            Token::Whitespace(_) => {}
            Token::SemiColon => cut = Some(t.span.start),
            _ => break,
        }
    }
    let Some(at) = cut else {
        return sql.trim();
    };
    // Line and column (1-based, in characters) to a byte offset.
    let mut offset = 0;
    for (i, line) in sql.split_inclusive('\n').enumerate() {
        if i + 1 == at.line as usize {
            let col: usize = line
                .chars()
                .take(at.column.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum();
            return sql[..offset + col].trim();
        }
        offset += line.len();
    }
    sql.trim()
}

/// Refuses the token forms that sqlparser and DuckDB read differently, so the query the guard
/// checks is the query DuckDB runs: nested block comments (DuckDB nests them, sqlparser does
/// not) and backticks (an identifier quote to sqlparser, an operator to DuckDB).
fn same_reading(dialect: &DuckDbDialect, sql: &str) -> Result<(), GuardError> {
    if sql.contains('`') {
        return Err(GuardError("backticks are not allowed".into()));
    }
    let tokens = Tokenizer::new(dialect, sql)
        .tokenize()
        .map_err(|e| GuardError(format!("it is not valid SQL ({e})")))?;
    for t in &tokens {
        if let Token::Whitespace(Whitespace::MultiLineComment(c)) = t {
            if c.contains("/*") || c.contains("*/") {
                return Err(GuardError("nested comments are not allowed".into()));
            }
        }
    }
    Ok(())
}

fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    text.split_whitespace()
        .next()
        .unwrap_or("that statement")
        .to_ascii_uppercase()
}

/// True when `name` (lower case) could shadow or name a DuckDB system object.
pub fn is_system_name(name: &str) -> bool {
    SYSTEM_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// One WITH scope: its CTE names in order, and how many of them are visible so far (a CTE
/// sees only the CTEs declared before it; the body sees all of them).
struct Scope {
    /// The query whose WITH this is (compared by address only).
    owner: *const Query,
    names: Vec<String>,
    /// The CTE bodies, in order (compared by address only).
    bodies: Vec<*const Query>,
    visible: usize,
}

struct Checker<'a> {
    tables: &'a BTreeSet<String>,
    scopes: Vec<Scope>,
}

fn last_part(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_lowercase())
        .unwrap_or_default()
}

fn refuse<T>(msg: String) -> ControlFlow<GuardError, T> {
    ControlFlow::Break(GuardError(msg))
}

impl Checker<'_> {
    fn is_cte(&self, name: &str) -> bool {
        self.scopes
            .iter()
            .any(|s| s.names[..s.visible].iter().any(|c| c == name))
    }

    fn table_allowed(&self, name: &ObjectName) -> Result<(), GuardError> {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
            .collect::<Option<_>>()
            .ok_or_else(|| GuardError(format!("{name} is not a table")))?;
        match parts.as_slice() {
            [one] if is_system_name(one) => Err(GuardError(format!(
                "{name} is a system catalog name and cannot be queried"
            ))),
            [one] if self.is_cte(one) || self.tables.contains(one) => Ok(()),
            [_] => Err(GuardError(format!(
                "table {name} is not declared in metrics.yaml"
            ))),
            _ => Err(GuardError(format!(
                "{name} is schema-qualified; refer to declared tables by their name alone"
            ))),
        }
    }
}

fn check_alias(alias: &Option<TableAlias>) -> Result<(), GuardError> {
    if let Some(a) = alias {
        let n = a.name.value.to_lowercase();
        if is_system_name(&n) {
            return Err(GuardError(format!(
                "{} is a system catalog name and cannot be used as an alias",
                a.name
            )));
        }
    }
    Ok(())
}

impl Visitor for Checker<'_> {
    type Break = GuardError;

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<GuardError> {
        if let SetExpr::Select(s) = q.body.as_ref() {
            if s.into.is_some() {
                return refuse("SELECT ... INTO is not allowed".into());
            }
        }
        if let Some(with) = &q.with {
            if with.recursive {
                return refuse("recursive queries are not allowed".into());
            }
            let mut names = Vec::new();
            for cte in &with.cte_tables {
                let name = cte.alias.name.value.to_lowercase();
                if is_system_name(&name) {
                    return refuse(format!(
                        "{} is a system catalog name and cannot name a CTE",
                        cte.alias.name
                    ));
                }
                if names.contains(&name) {
                    return refuse(format!("CTE {} is declared twice", cte.alias.name));
                }
                names.push(name);
            }
            self.scopes.push(Scope {
                owner: q as *const Query,
                names,
                bodies: with
                    .cte_tables
                    .iter()
                    .map(|c| &*c.query as *const Query)
                    .collect(),
                visible: 0,
            });
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, q: &Query) -> ControlFlow<GuardError> {
        let me = q as *const Query;
        if self
            .scopes
            .last()
            .is_some_and(|s| std::ptr::eq(s.owner, me))
        {
            self.scopes.pop();
        }
        if let Some(top) = self.scopes.last_mut() {
            if let Some(i) = top.bodies.iter().position(|b| std::ptr::eq(*b, me)) {
                top.visible = i + 1;
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<GuardError> {
        let res = match tf {
            TableFactor::Table {
                name, args, alias, ..
            } => check_alias(alias).and_then(|()| match args {
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
            }),
            TableFactor::Derived { alias, .. } | TableFactor::UNNEST { alias, .. } => {
                check_alias(alias)
            }
            TableFactor::NestedJoin { alias, .. } => check_alias(alias),
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
            // As scalars, range() and generate_series() build one list in a single call:
            // only a short one from literal bounds.
            if matches!(name.as_str(), "range" | "generate_series") {
                let args: Vec<String> = match &f.args {
                    sqlparser::ast::FunctionArguments::List(l) => {
                        l.args.iter().map(|a| a.to_string()).collect()
                    }
                    _ => Vec::new(),
                };
                if list_length(&args).is_none_or(|n| n > MAX_SCALAR_LIST) {
                    return ControlFlow::Break(GuardError(format!(
                        "{}() as a value is allowed only with literal bounds and at most {MAX_SCALAR_LIST} elements",
                        f.name
                    )));
                }
            }
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
    fn a_final_semicolon_and_trailing_comments_do_not_break_the_row_cap() {
        for (sql, body) in [
            (
                "SELECT count(*) FROM tickets; -- note",
                "SELECT count(*) FROM tickets",
            ),
            ("SELECT 1 AS a;\n-- one\n/* two */\n", "SELECT 1 AS a"),
            ("SELECT ';' AS s -- trailing", "SELECT ';' AS s -- trailing"),
            ("SELECT 'é' AS e;", "SELECT 'é' AS e"),
        ] {
            let admitted = admit(sql, &tables(), 10).expect(sql);
            assert!(admitted.contains(&format!("(\n{body}\n)")), "{admitted}");
        }
        // Each admitted form runs in DuckDB.
        let conn = duckdb::Connection::open_in_memory().expect("duckdb");
        conn.execute_batch("CREATE TABLE tickets (id INTEGER)")
            .expect("table");
        for sql in [
            "SELECT count(*) FROM tickets; -- note",
            "SELECT 1 AS a;\n-- one\n",
        ] {
            let admitted = admit(sql, &tables(), 10).expect(sql);
            conn.prepare(&admitted).expect(&admitted);
        }
    }

    #[test]
    fn a_scalar_range_builds_only_a_short_list_from_literals() {
        for sql in [
            "SELECT len(range(300000000))",
            "SELECT range(3e8)",
            "SELECT generate_series(1, 1000000000, 1)",
            "SELECT list_sum(range(count(*))) FROM tickets",
            "SELECT range(0, 10, 0)",
        ] {
            assert!(refused(sql).contains("at most 100000 elements"), "{sql}");
        }
        for sql in [
            "SELECT range(10)",
            "SELECT generate_series(1, 100, 2)",
            "SELECT * FROM range(300000000) r(x)",
        ] {
            assert_eq!(check(sql, &tables()), Ok(()), "{sql}");
        }
    }

    #[test]
    fn admits_selects_over_declared_tables() {
        for sql in [
            "SELECT count(*) FROM tickets",
            "SELECT m.segment, count(*) FROM tickets t JOIN merchants m USING (merchant_id) GROUP BY 1",
            "WITH x AS (SELECT * FROM tickets) SELECT * FROM x",
            "WITH x AS (SELECT 1 AS a), y AS (SELECT * FROM x) SELECT * FROM y, tickets",
            "WITH tickets AS (SELECT * FROM tickets WHERE channel = 'chat') SELECT count(*) FROM tickets",
            "SELECT * FROM (WITH m AS (SELECT * FROM merchants) SELECT * FROM m) s",
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
        assert!(refused("SELECT * FROM other_db.main.tickets").contains("schema-qualified"));
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

    /// Every line of the hostile corpus is refused (tests/fixtures/hostile_sql.txt).
    #[test]
    fn refuses_the_hostile_corpus() {
        let corpus = include_str!("../../tests/fixtures/hostile_sql.txt");
        let queries: Vec<&str> = corpus
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert!(queries.len() >= 120, "corpus has {} queries", queries.len());
        let admitted: Vec<&&str> = queries
            .iter()
            .filter(|q| check(q, &tables()).is_ok())
            .collect();
        assert!(admitted.is_empty(), "admitted: {admitted:#?}");
    }

    #[test]
    fn a_cte_is_not_visible_in_its_own_body_or_earlier_ctes() {
        assert!(
            refused("WITH tickets2 AS (SELECT * FROM tickets2) SELECT 1").contains("not declared")
        );
        assert!(
            refused("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a")
                .contains("not declared")
        );
        // Out of its WITH, a CTE name means nothing.
        assert!(
            refused("SELECT * FROM (WITH s AS (SELECT 1) SELECT * FROM s) q, s")
                .contains("not declared")
        );
    }

    #[test]
    fn admit_caps_rows_inside_duckdb() {
        let sql = admit("SELECT * FROM tickets ORDER BY 1;", &tables(), 100).expect("admitted");
        assert!(sql.ends_with("LIMIT 101"), "{sql}");
        assert!(!sql.contains(";"), "{sql}");
        assert!(admit("DROP TABLE tickets", &tables(), 100).is_err());
    }
}
