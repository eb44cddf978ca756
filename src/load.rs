//! `cortex load`: builds a project's warehouse from its own `load.sql` and a directory of
//! source files (CSVs), e.g. `examples/acme`. The script names the directory as
//! `{{csv_dir}}`; nothing else is substituted. The warehouse is built beside the target
//! and moved into place only when every statement succeeded.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use duckdb::Connection;

/// Tables and their row counts after a load.
pub type Loaded = Vec<(String, i64)>;

/// Runs `script` with `{{csv_dir}}` replaced by `csv_dir`, into a fresh DuckDB at `out`.
pub fn load(script: &Path, csv_dir: &Path, out: &Path) -> Result<Loaded> {
    let sql = std::fs::read_to_string(script)
        .with_context(|| format!("cannot read {}", script.display()))?;
    if !csv_dir.is_dir() {
        anyhow::bail!("{} is not a directory", csv_dir.display());
    }
    let dir = csv_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", csv_dir.display()))?;
    let sql = sql.replace(
        "{{csv_dir}}",
        &dir.display().to_string().replace('\'', "''"),
    );
    if let Some(parent) = out.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
    }
    let mut tmp = out.file_name().unwrap_or_default().to_os_string();
    tmp.push(".building");
    let tmp = out.with_file_name(tmp);
    remove_db(&tmp);
    let result = (|| -> Result<Loaded> {
        let conn =
            Connection::open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        conn.execute_batch(&sql)
            .with_context(|| format!("{} failed", script.display()))?;
        let mut stmt = conn.prepare(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name",
        )?;
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut counts = Vec::new();
        for t in names {
            let n: i64 = conn.query_row(
                &format!("SELECT count(*) FROM \"{}\"", t.replace('"', "\"\"")),
                [],
                |r| r.get(0),
            )?;
            counts.push((t, n));
        }
        conn.execute_batch("CHECKPOINT")?;
        Ok(counts)
    })();
    match result {
        Ok(counts) => {
            remove_db(out);
            std::fs::rename(&tmp, out)
                .with_context(|| format!("cannot move the warehouse to {}", out.display()))?;
            Ok(counts)
        }
        Err(e) => {
            remove_db(&tmp);
            Err(e)
        }
    }
}

fn remove_db(path: &Path) {
    let _ = std::fs::remove_file(path);
    let mut wal = path.as_os_str().to_os_string();
    wal.push(".wal");
    let _ = std::fs::remove_file(PathBuf::from(wal));
}
