//! The `cortex` command line. Each command parses its flags and calls the library.
//! The one place that prints (with `bench`): its output is the user interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::demo::{self, DemoOptions};
use crate::engine::{load_layer, Engine};
use crate::render::text;
use crate::semantic::{Filter, Grain, MetricQuery, OrderBy, TimeRange};
use crate::warehouse::AuditContext;

#[derive(Debug, Parser)]
#[command(
    name = "cortex",
    version,
    about = "Trusted answers from governed business data",
    long_about = "Cortex answers business questions from governed metric definitions \
                  (metrics.yaml) over a read-only DuckDB warehouse.\n\n\
                  Start with `cortex demo` to build the demo warehouse, then \
                  `cortex query --metrics arr --by segment`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Project directory holding metrics.yaml, skills/, context/ and cortex.toml.
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub project: PathBuf,
    /// Warehouse file (default: data/warehouse.duckdb in the project).
    #[arg(long, global = true, env = "CORTEX_WAREHOUSE", value_name = "PATH")]
    pub warehouse: Option<PathBuf>,
    /// The date to treat as today (YYYY-MM-DD), for reproducible answers.
    #[arg(long, global = true, value_name = "YYYY-MM-DD")]
    pub today: Option<NaiveDate>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the demo warehouse (an ecommerce helpdesk SaaS company, 24 months of history).
    Demo(DemoArgs),
    /// Validate metrics.yaml and report every problem with file, line and key.
    Check,
    /// Build the warehouse from the project's load.sql and a directory of CSV files.
    Load(LoadArgs),
    /// Run a structured metric query through the semantic layer.
    Query(QueryArgs),
    /// Ask a question in plain language, answered from governed metrics.
    Ask(AskArgs),
    /// Run the web site and the Slack bot (Socket Mode and/or HTTP Events API) until Ctrl-C.
    Serve(ServeArgs),
    /// Run a question set (YAML) and report accuracy and every miss.
    Eval(EvalArgs),
    /// Run the tests in every skill's skill.yaml (routing, parameters, answer text).
    Test,
    /// List the installed skills.
    Skills,
    /// Measure compile, governed and raw DuckDB query times at several demo scales.
    Bench(BenchArgs),
    /// Manage curated context: `cortex context sync notion`.
    #[command(subcommand)]
    Context(ContextCommand),
    /// Read another semantic layer's definitions as metrics.yaml.
    #[command(subcommand)]
    Import(ImportFrom),
    /// Write the project's metrics.yaml as another semantic layer's definitions.
    #[command(subcommand)]
    Export(ExportTo),
    /// Send a briefing (briefings/NAME.yaml) now, through the same ledger and outbox as
    /// the scheduler in `cortex serve`.
    Brief(BriefArgs),
    /// Signals (signals/*.yaml): evaluate and deliver.
    #[command(subcommand)]
    Signals(SignalsCommand),
    /// API tokens for `/api/v1` and `/mcp`: one per person, shown once, stored hashed.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Serve MCP over stdio for a desktop LLM client (Claude Desktop, Cursor...), as one
    /// person: the access policy and the audit log see them.
    Mcp(McpArgs),
    /// The browser extension (Manifest V3): `cortex extension pack`.
    #[command(subcommand)]
    Extension(ExtensionCommand),
}

#[derive(Debug, Subcommand)]
pub enum ExtensionCommand {
    /// Write the extension as a zip for the Chrome Web Store (private listing) or an
    /// enterprise policy install, allowed to reach only this Cortex's /api/v1.
    Pack {
        /// The zip to write.
        #[arg(long, value_name = "FILE", default_value = "cortex-extension.zip")]
        out: PathBuf,
        /// The Cortex the extension talks to (default: `[server] public_url`).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// The person (email or Slack id in context/people.yaml); default `[server] default_user`.
    #[arg(long, env = "CORTEX_MCP_USER", value_name = "EMAIL")]
    pub user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a person in context/people.yaml; prints it once.
    Create {
        /// The person's email (or Slack id) in context/people.yaml.
        #[arg(long, value_name = "EMAIL")]
        user: String,
        /// A name to recognise it by ("laptop", "extension").
        #[arg(long, default_value = "api")]
        name: String,
    },
    /// Revoke a token by its id (from `cortex token list`).
    Revoke { id: i64 },
    /// List tokens: id, person, name, created, last used, revoked (never the secret).
    List,
}

#[derive(Debug, Subcommand)]
pub enum ContextCommand {
    /// Pull external sources into context/ (only what changed since the last sync).
    Sync {
        #[arg(value_enum)]
        source: SyncSource,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SyncSource {
    /// The pages and databases of `[notion]` in cortex.toml, into context/notion/.
    Notion,
}

#[derive(Debug, Subcommand)]
pub enum ImportFrom {
    /// A dbt MetricFlow project (semantic models, metrics, Jinja filters): prints
    /// metrics.yaml and lists every construct it could not carry, with file and line.
    Metricflow {
        /// The directory holding the project's YAML (searched recursively).
        dir: PathBuf,
        /// Write metrics.yaml here instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportTo {
    /// MetricFlow YAML (semantic_models/, metrics.yaml) that `cortex import metricflow`
    /// reads back to the same metrics.yaml.
    Metricflow {
        /// The directory to write (created if missing).
        dir: PathBuf,
    },
    /// A Snowflake Cortex Analyst semantic model (one YAML file). Metrics it cannot express
    /// are listed on stderr.
    Snowflake {
        /// Write the YAML here instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The semantic model's name.
        #[arg(long, default_value = "cortex")]
        name: String,
        /// The Snowflake database holding the tables.
        #[arg(long, default_value = "ANALYTICS")]
        database: String,
        /// The Snowflake schema holding the tables.
        #[arg(long, default_value = "PUBLIC")]
        schema: String,
    },
}

#[derive(Debug, Args)]
pub struct BriefArgs {
    /// The briefing's name.
    pub name: String,
    /// Send only to this person (a Slack id from context/people.yaml) or channel.
    #[arg(long, value_name = "SLACK_ID")]
    pub to: Option<String>,
    /// Print what would be sent (a summary of the Slack message) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send a copy for the current minute, instead of the latest scheduled slot (which is
    /// sent at most once).
    #[arg(long)]
    pub now: bool,
}

#[derive(Debug, Subcommand)]
pub enum SignalsCommand {
    /// Evaluate every signal for --today (default: the real today) and deliver what fired
    /// (mutes, cooldown and quiet hours apply).
    Run {
        /// Print what would be sent and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question, e.g. "What's our ARR by segment?"
    #[arg(required = true, num_args = 1..)]
    pub question: Vec<String>,
    #[arg(long, value_enum, default_value_t = AskFormat::Text)]
    pub format: AskFormat,
    /// Ask as this Slack user id (context/people.yaml), for "my team" questions.
    #[arg(long = "as", value_name = "SLACK_ID", env = "CORTEX_ASKER")]
    pub asker: Option<String>,
    /// Write the answer to this file (required for pdf; html and text default to stdout).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// A conversation to continue: asks with the same key are follow-ups of each other
    /// ("and for Enterprise?"), as in a Slack thread.
    #[arg(long, value_name = "KEY")]
    pub thread: Option<String>,
    /// The option picked from a clarifying question (a metric or skill name).
    #[arg(long, value_name = "NAME")]
    pub choice: Option<String>,
    /// Also publish the answer: `notion` creates a page in `[notion] publish_database`
    /// (through the outbox: printed is the page URL, or the write's state if not delivered yet).
    #[arg(long, value_enum, value_name = "WHERE")]
    pub publish: Option<PublishTo>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PublishTo {
    /// A page in the Notion publish database.
    Notion,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AskFormat {
    Text,
    Json,
    /// A self-contained web page (inline CSS and SVG charts).
    Html,
    /// A PDF report (the skill's report.typ, or the default report).
    Pdf,
    /// The Slack message (Block Kit JSON) the bot would post.
    Slack,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Directory of the source files; load.sql names it `{{csv_dir}}`.
    #[arg(long, value_name = "DIR")]
    pub csv_dir: PathBuf,
    /// The script (default: load.sql in the project).
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Where to write the warehouse (default: the configured warehouse path).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for the web site and Slack HTTP endpoints (default 127.0.0.1:8080, or
    /// [server] listen in cortex.toml, or CORTEX_LISTEN).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<String>,
    /// For tests: the scheduler's clock starts at this time (RFC 3339) and runs from there.
    #[arg(long, env = "CORTEX_NOW", value_name = "RFC3339", hide = true)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Question set: YAML cases (tests/eval/questions.yaml), or JSON lines with gold
    /// results (`.jsonl`, e.g. acme_questions_gold.jsonl).
    pub file: PathBuf,
    /// Gold mode: also fail when fewer questions than this are answered correctly.
    #[arg(long, value_name = "N")]
    pub min_correct: Option<usize>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// `load`: drive a running `cortex serve` instead.
    #[command(subcommand)]
    pub mode: Option<BenchMode>,
    /// Demo scales to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1.0, 10.0])]
    pub scales: Vec<f64>,
    /// Where the bench warehouses are built and kept between runs.
    #[arg(long, default_value = "data/bench", value_name = "DIR")]
    pub dir: PathBuf,
    /// Repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

#[derive(Debug, Subcommand)]
pub enum BenchMode {
    /// Drive a running `cortex serve` through its web ask endpoint (POST with CSRF) and
    /// report p50/p95/max latency, errors and lost records.
    Load(LoadBenchArgs),
    /// Plan every question of a question set (YAML or gold JSON lines) and report planning
    /// time per question: median, p95 and slowest, against the 5 ms budget.
    Plan(PlanBenchArgs),
    /// Replay the signal set (signals/*.yaml) day by day over the demo history, clean and
    /// with injected anomalies: recall, precision, false alarms per month, one-day speed.
    Signals(SignalBenchArgs),
}

#[derive(Debug, Args)]
pub struct SignalBenchArgs {
    /// Demo scale of the two warehouses (clean and with anomalies).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Where the warehouses are built and kept between runs.
    #[arg(long, default_value = "data/bench", value_name = "DIR")]
    pub dir: PathBuf,
    /// Timing runs for the one-day evaluation (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Print every alert.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct PlanBenchArgs {
    /// The question set: a YAML set (tests/eval/questions.yaml) or a gold JSON-lines file.
    pub file: PathBuf,
    /// Plans per question (the median is kept).
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
}

#[derive(Debug, Args)]
pub struct LoadBenchArgs {
    /// The running site.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// How many questions in all.
    #[arg(long, default_value_t = 100)]
    pub questions: usize,
    /// How many at once.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Slow questions kept running while the others are measured.
    #[arg(long, default_value_t = 0)]
    pub heavy: usize,
    /// The slow question (e.g. a governed query at day grain over many groups); `{since}`
    /// becomes a different early date on every ask, so the server's cache cannot answer it.
    #[arg(
        long,
        default_value = "What is the median first response time by channel and intent per day since {since}?"
    )]
    pub heavy_question: String,
    /// A file of questions, one per line (default: a built-in set).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Don't check the server's records in the state database (e.g. a remote server).
    #[arg(long)]
    pub no_records: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the warehouse (default: the configured warehouse path).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Multiplies the event tables; scale 1 is about 2.5 M tickets.
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Last day of data (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub end_date: Option<NaiveDate>,
    /// Seed of the hash-based random streams.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Inject the documented anomalies (src/demo/anomalies.rs) and write their list to
    /// `<warehouse>.anomalies.json`, for `cortex bench signals`.
    #[arg(long)]
    pub anomalies: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Metrics, comma-separated (see metrics.yaml). Without metrics, `--by` lists the
    /// distinct values (or value combinations) of its dimensions.
    #[arg(long, short, value_delimiter = ',', required_unless_present = "by")]
    pub metrics: Vec<String>,
    /// Dimensions to group by (or to list, without --metrics), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub by: Vec<String>,
    /// A filter such as "segment = Enterprise" or "channel in (chat, email)"; repeatable.
    #[arg(long = "where", value_name = "CONDITION")]
    pub filters: Vec<String>,
    /// Time grain: day, week, month, quarter or year.
    #[arg(long)]
    pub grain: Option<String>,
    /// Month, quarter or year to date: each period's running total from the start of its
    /// month (quarter, year), e.g. `--grain day --to-date month` for MTD per day.
    #[arg(long, value_name = "GRAIN")]
    pub to_date: Option<String>,
    /// First day of the period (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<NaiveDate>,
    /// Last day of the period (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<NaiveDate>,
    /// Sort keys such as "-arr" or "segment asc", comma-separated.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub order: Vec<String>,
    /// Maximum number of rows.
    #[arg(long)]
    pub limit: Option<u64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Run as this person (Slack user id or email in context/people.yaml): the access policy
    /// applies exactly as it does for them in Slack or on the web.
    #[arg(long = "as", value_name = "SLACK_ID_OR_EMAIL")]
    pub asker: Option<String>,
}

/// Entry point of the binary: parses arguments, sets up tracing, runs, maps errors to a
/// message and an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    });
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CORTEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    let today = g.today.unwrap_or_else(|| chrono::Local::now().date_naive());
    // A relative --warehouse (or CORTEX_WAREHOUSE) is relative to the working directory;
    // only cortex.toml's `warehouse` is relative to the project.
    let warehouse = match &g.warehouse {
        Some(p) if p.is_relative() => Some(std::env::current_dir()?.join(p)),
        other => other.clone(),
    };
    let config = Config::load(&g.project, warehouse.as_deref())?;
    match cli.command {
        Command::Demo(a) => cmd_demo(&config, a, today),
        Command::Check => cmd_check(&config),
        Command::Context(ContextCommand::Sync {
            source: SyncSource::Notion,
        }) => cmd_sync_notion(&config),
        Command::Load(a) => {
            let script = a.script.unwrap_or_else(|| config.project.join("load.sql"));
            let out = a.out.unwrap_or_else(|| config.warehouse.clone());
            let tables = crate::load::load(&script, &a.csv_dir, &out)?;
            let mut w = std::io::stdout().lock();
            for (t, n) in &tables {
                writeln!(w, "{t:<28} {n:>10} rows")?;
            }
            writeln!(w, "built {}", out.display())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Query(a) => cmd_query(config, a, today),
        Command::Ask(a) => cmd_ask(config, a, today),
        Command::Serve(a) => {
            let mut config = config;
            if let Some(l) = a.listen {
                config.server.listen = l;
            }
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(crate::server::serve_with(config, g.today, clock_at(a.now)))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Brief(a) => cmd_brief(config, a, g.today),
        Command::Token(t) => cmd_token(&config, t),
        Command::Extension(ExtensionCommand::Pack { out, url }) => {
            let url = url.unwrap_or_else(|| config.server.base_url());
            let origin = crate::api::extension::origin(&url)?;
            let zip = crate::api::extension::pack(&origin)?;
            std::fs::write(&out, &zip)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("wrote {} ({} bytes) for {origin}", out.display(), zip.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Mcp(a) => {
            let user = a.user.unwrap_or_else(|| {
                let d = &config.server.default_user;
                d.strip_prefix("web:").unwrap_or(d).to_string()
            });
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(crate::mcp::serve_stdio(config, &user, g.today))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Signals(SignalsCommand::Run { dry_run }) => {
            cmd_signals(config, dry_run, today, g.today)
        }
        Command::Eval(a) => cmd_eval(config, a, today),
        Command::Import(ImportFrom::Metricflow { dir, out }) => {
            let imported = crate::import::metricflow::import_dir(&dir)?;
            let yaml = imported.to_yaml(&dir)?;
            for d in &imported.dropped {
                eprintln!("not imported: {d}");
            }
            match out {
                Some(path) => {
                    std::fs::write(&path, yaml)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {} ({} models, {} metrics; {} constructs not imported)",
                        path.display(),
                        imported.file.semantic_models.len(),
                        imported.file.metrics.len(),
                        imported.dropped.len()
                    );
                }
                None => print!("{yaml}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(ExportTo::Metricflow { dir }) => {
            let ex = crate::import::metricflow::export(&config.metrics_file(), &dir)?;
            for f in &ex.files {
                println!("wrote {}", f.display());
            }
            for n in &ex.notes {
                eprintln!("note: {n}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(ExportTo::Snowflake {
            out,
            name,
            database,
            schema,
        }) => {
            let layer = load_layer(&config.metrics_file())?;
            let target = crate::import::snowflake::Target {
                name,
                database,
                schema,
            };
            let ex = crate::import::snowflake::export(&layer, &target);
            let yaml = ex.to_yaml();
            match out {
                Some(path) => {
                    std::fs::write(&path, yaml)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    println!("wrote {}", path.display());
                }
                None => print!("{yaml}"),
            }
            for n in &ex.notes {
                eprintln!("note: {n}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Test => cmd_test(config, today),
        Command::Skills => {
            let layer = load_layer(&config.metrics_file())?;
            let skills = crate::skills::Skills::load(&config.project.join("skills"), &layer)
                .map_err(|d| anyhow::anyhow!("skills/ has problems:\n{d}"))?;
            for s in &skills.skills {
                println!("{:<20} {}", s.name, s.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchArgs {
            mode: Some(BenchMode::Plan(p)),
            ..
        }) => {
            let questions: Vec<String> = if p
                .file
                .extension()
                .is_some_and(|e| e == "jsonl" || e == "json")
            {
                crate::eval::load_gold(&p.file)?
                    .into_iter()
                    .map(|c| c.question)
                    .collect()
            } else {
                crate::eval::load(&p.file)?
                    .into_iter()
                    .map(|c| c.question)
                    .collect()
            };
            let engine = Engine::open(config)?;
            let over = crate::bench::bench_planning(
                &engine,
                &questions,
                today,
                p.runs.max(1),
                &mut std::io::stdout().lock(),
            )?;
            Ok(if over {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Bench(BenchArgs {
            mode: Some(BenchMode::Signals(b)),
            ..
        }) => {
            crate::bench::signals::run(
                &crate::bench::signals::SignalBenchOptions {
                    project: g.project.clone(),
                    dir: g.project.join(b.dir),
                    scale: b.scale,
                    end_date: today,
                    runs: b.runs.max(1),
                    verbose: b.verbose,
                },
                &mut std::io::stdout().lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchArgs {
            mode: Some(BenchMode::Load(l)),
            ..
        }) => {
            let pool = match &l.file {
                Some(f) => std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read {}", f.display()))?
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string)
                    .collect(),
                None => crate::bench::load::default_questions(),
            };
            let opts = crate::bench::load::LoadOptions {
                url: l.url,
                questions: l.questions,
                concurrency: l.concurrency.max(1),
                pool,
                heavy: l.heavy,
                heavy_question: l.heavy_question,
                state_db: (!l.no_records).then(|| config.state_db.clone()),
            };
            let report = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(crate::bench::load::run(&opts))?;
            crate::bench::load::print(&opts, &report, &mut std::io::stdout().lock())?;
            Ok(if report.errors == 0 && report.lost.unwrap_or(0) == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Bench(a) => {
            crate::bench::run(
                &crate::bench::BenchOptions {
                    project: g.project.clone(),
                    scales: a.scales,
                    dir: g.project.join(a.dir),
                    runs: a.runs.max(1),
                    end_date: today,
                },
                &mut std::io::stdout().lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `cortex token create|revoke|list`.
fn cmd_token(config: &Config, cmd: TokenCommand) -> Result<ExitCode> {
    let log = crate::warehouse::AuditLog::open(&config.state_db).with_context(|| {
        format!(
            "cannot open the state database at {}",
            config.state_db.display()
        )
    })?;
    let tokens = crate::api::tokens::Tokens::open(log)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        TokenCommand::Create { user, name } => {
            let layer = load_layer(&config.metrics_file())?;
            let ctx = crate::context::Context::load(&config.project.join("context"), &layer)
                .map_err(|d| anyhow::anyhow!("context/ has problems:\n{d}"))?;
            let user = user.trim();
            if ctx
                .person_by_email(user)
                .or_else(|| ctx.person(user))
                .is_none()
            {
                anyhow::bail!("{user} is not in context/people.yaml; a token stands for a person the access policy knows");
            }
            let (id, secret) = tokens.create(user, &name)?;
            writeln!(out, "{secret}")?;
            eprintln!(
                "token {id} for {user} ({name}). It is shown only now: store it somewhere safe."
            );
        }
        TokenCommand::Revoke { id } => {
            if !tokens.revoke(id)? {
                anyhow::bail!("no live token has id {id} (see `cortex token list`)");
            }
            writeln!(out, "revoked token {id}")?;
        }
        TokenCommand::List => {
            writeln!(
                out,
                "{:>4}  {:<32} {:<16} {:<20} {:<20} revoked",
                "id", "user", "name", "created", "last used"
            )?;
            for t in tokens.list()? {
                writeln!(
                    out,
                    "{:>4}  {:<32} {:<16} {:<20} {:<20} {}",
                    t.id,
                    t.user,
                    t.name,
                    t.created_at,
                    t.last_used_at.as_deref().unwrap_or("never"),
                    t.revoked_at.as_deref().unwrap_or("no"),
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The scheduler's clock: the system's, or one starting at `now` (`CORTEX_NOW`, tests).
fn clock_at(
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> std::sync::Arc<dyn crate::schedule::Clock> {
    std::sync::Arc::new(match now {
        Some(t) => crate::schedule::SystemClock::starting_at(t),
        None => crate::schedule::SystemClock::default(),
    })
}

/// A scheduler over the project, for `cortex brief` and `cortex signals run`.
fn scheduler(config: Config, today: Option<NaiveDate>) -> Result<crate::schedule::Scheduler> {
    let now = std::env::var("CORTEX_NOW")
        .ok()
        .map(|s| s.parse::<chrono::DateTime<chrono::Utc>>())
        .transpose()
        .context("CORTEX_NOW must be an RFC 3339 time")?;
    let settings = config.schedule.clone();
    let llm = match &config.llm {
        Some(c) => Some(crate::llm::Llm::new(c).context("the LLM settings are invalid")?),
        None => None,
    };
    let rt = crate::skills::run::Runtime::open(config)?;
    let svc = std::sync::Arc::new(crate::service::Service::new(rt, llm, today)?);
    crate::schedule::Scheduler::load(svc, clock_at(now), settings)
}

/// Prints what a scheduler command did; for a dry run, each message without its PDF bytes.
fn print_outcomes(out: &[crate::schedule::Outcome]) -> Result<()> {
    use crate::schedule::Outcome;
    if out.is_empty() {
        println!("nothing to send");
    }
    for o in out {
        match o {
            Outcome::Sent {
                key, late, due_at, ..
            } => {
                println!(
                    "queued {key}{} (due {due_at})",
                    if *late { " [late]" } else { "" }
                )
            }
            Outcome::Already { key } => println!("already sent {key}"),
            Outcome::Muted { key, until } => println!("muted {key} until {until}"),
            Outcome::Cooldown { key, last } => println!("cooldown {key} (last fired {last})"),
            Outcome::DryRun { key, payload } => {
                let mut p = payload.clone();
                if let Some(f) = p.get_mut("file").filter(|f| f.is_object()) {
                    let n = f["base64"].as_str().map_or(0, |b| b.len() * 3 / 4);
                    f["base64"] = serde_json::json!(format!("<{n} bytes>"));
                }
                println!("would send {key}:\n{}", serde_json::to_string_pretty(&p)?);
            }
        }
    }
    Ok(())
}

/// Delivers what was queued once (the outbox of `cortex serve` retries anything left).
async fn deliver_queued(svc: &crate::service::Service, config: &Config) -> Result<()> {
    let deliverers = crate::actions::deliverers(config)?;
    if deliverers.is_empty() {
        println!("queued only: no Slack bot token here; `cortex serve` delivers it");
        return Ok(());
    }
    svc.outbox
        .deliver_due(&deliverers, chrono::Utc::now())
        .await?;
    Ok(())
}

fn cmd_brief(config: Config, a: BriefArgs, today: Option<NaiveDate>) -> Result<ExitCode> {
    let cfg = config.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let s = scheduler(config, today)?;
        let out = s.brief(&a.name, a.to.as_deref(), a.dry_run, a.now).await?;
        print_outcomes(&out)?;
        if !a.dry_run {
            deliver_queued(&s.svc, &cfg).await?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn cmd_signals(
    config: Config,
    dry_run: bool,
    today: NaiveDate,
    fixed: Option<NaiveDate>,
) -> Result<ExitCode> {
    let cfg = config.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let s = scheduler(config, fixed)?;
        let out = s.run_signals(today, dry_run).await?;
        print_outcomes(&out)?;
        if !dry_run {
            deliver_queued(&s.svc, &cfg).await?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn cmd_demo(config: &Config, a: DemoArgs, today: NaiveDate) -> Result<ExitCode> {
    let opts = DemoOptions {
        out: a.out.unwrap_or_else(|| config.warehouse.clone()),
        scale: a.scale,
        end_date: a.end_date.unwrap_or(today),
        seed: a.seed,
    };
    eprintln!(
        "building the demo warehouse at {} (scale {}, seed {}, data through {})",
        opts.out.display(),
        opts.scale,
        opts.seed,
        opts.end_date
    );
    let summary = if a.anomalies {
        let (summary, list) = demo::build_with_anomalies(&opts, &mut |line| eprintln!("{line}"))?;
        for x in &list {
            eprintln!(
                "  injected {:<30} {} to {}  -> {}",
                x.id, x.start, x.end, x.expected_signal
            );
        }
        eprintln!(
            "  anomaly list: {}",
            demo::anomalies_path(&opts.out).display()
        );
        summary
    } else {
        demo::build(&opts, &mut |line| eprintln!("{line}"))?
    };
    let mut out = std::io::stdout().lock();
    for (table, n) in &summary.tables {
        writeln!(
            out,
            "{table:<22} {:>12} rows",
            crate::format::group_thousands(&n.to_string())
        )?;
    }
    writeln!(
        out,
        "built {} in {:.1} s",
        opts.out.display(),
        summary.seconds
    )?;
    Ok(ExitCode::SUCCESS)
}

fn cmd_check(config: &Config) -> Result<ExitCode> {
    let path = config.metrics_file();
    let problems = match crate::semantic::SemanticLayer::load(&path) {
        Ok(layer) => {
            let mut problems = Vec::new();
            let context_dir = config.project.join("context");
            let skills_dir = config.project.join("skills");
            let ctx = crate::context::Context::load(&context_dir, &layer);
            let skills = crate::skills::Skills::load(&skills_dir, &layer);
            if let Err(d) = &ctx {
                problems.extend(d.0.clone());
            }
            if let Err(d) = &skills {
                problems.extend(d.0.clone());
            }
            let signals = ctx
                .as_ref()
                .ok()
                .map(|c| crate::signals::load_dir(&config.project, &layer, c));
            if let Some(Err(d)) = &signals {
                problems.extend(d.0.clone());
            }
            let briefings = match (&ctx, &skills) {
                (Ok(c), Ok(s)) => Some(crate::schedule::briefing::load_dir(&config.project, c, s)),
                _ => None,
            };
            if let Some(Err(d)) = &briefings {
                problems.extend(d.0.clone());
            }
            let people = ctx.as_ref().map(|c| c.people.clone()).unwrap_or_default();
            if let Err(d) = crate::policy::Governance::load(
                &context_dir,
                people,
                std::sync::Arc::new(layer.clone()),
            ) {
                problems.extend(d.0);
            }
            let wh_problems = check_against_warehouse(config, &layer, &path)?;
            problems.extend(wh_problems.iter().cloned());
            if let (Ok(c), Ok(s)) = (&ctx, &skills) {
                println!(
                    "{}: ok ({} semantic models, {} metrics)",
                    path.display(),
                    layer.models.len(),
                    layer.metrics.len()
                );
                println!(
                    "{}: ok ({} OKRs, {} teams, {} people, {} strategies, {} glossary terms)",
                    context_dir.display(),
                    c.okrs.len(),
                    c.teams.len(),
                    c.people.len(),
                    c.strategies.len(),
                    c.glossary.len()
                );
                println!("{}: ok ({} skills)", skills_dir.display(), s.skills.len());
                if let Some(Ok(b)) = &briefings {
                    println!(
                        "{}: ok ({} briefings)",
                        config.project.join("briefings").display(),
                        b.len()
                    );
                }
                if let Some(Ok(set)) = &signals {
                    println!(
                        "{}: ok ({} signals)",
                        config.project.join("signals").display(),
                        set.signals.len()
                    );
                }
            }
            problems
        }
        Err(d) => d.0,
    };
    if problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for line in &problems {
        println!("{line}");
    }
    eprintln!(
        "{} problem{} found",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::from(1))
}

/// When the warehouse file exists, checks every declared table, column and primary key
/// in it (`cortex check`); prints a line when all is well.
fn check_against_warehouse(
    config: &Config,
    layer: &crate::semantic::SemanticLayer,
    path: &std::path::Path,
) -> Result<Vec<crate::diagnostics::Diagnostic>> {
    if !config.warehouse.exists() {
        return Ok(Vec::new());
    }
    let source =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let wh =
        crate::warehouse::Warehouse::open(&config.warehouse, layer.tables(), config.limits, None)?;
    let problems = crate::semantic::verify::check_warehouse(layer, path, &source, &wh);
    if problems.is_empty() {
        println!(
            "{}: ok ({} tables, their columns and primary keys match metrics.yaml)",
            config.warehouse.display(),
            layer.tables().len()
        );
    }
    Ok(problems)
}

/// Builds a `MetricQuery` from command-line flags.
/// A range open at one end runs from the first day of data or up to `today`.
pub fn query_from_args(a: &QueryArgs, today: NaiveDate) -> Result<MetricQuery> {
    if let Some(t) =
        a.by.iter()
            .find(|b| b.trim() == "metric_time" || b.trim().starts_with("metric_time__"))
    {
        anyhow::bail!(
            "{t:?} is the time axis, not a dimension: use --grain day, week, month, quarter or year (e.g. --grain month)"
        );
    }
    let grain = match &a.grain {
        Some(g) => Some(Grain::parse(g).with_context(|| {
            format!("unknown grain {g:?}; use day, week, month, quarter or year")
        })?),
        None => None,
    };
    let to_date = match &a.to_date {
        Some(g) => Some(Grain::parse(g).with_context(|| {
            format!("unknown --to-date grain {g:?}; use week, month, quarter or year")
        })?),
        None => None,
    };
    let mut wheres = MetricQuery::default();
    for f in &a.filters {
        wheres.add_where(Filter::parse(f).map_err(anyhow::Error::msg)?);
    }
    let order = a
        .order
        .iter()
        .map(|o| OrderBy::parse(o).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let time_range = match (a.from, a.to) {
        (None, None) => None,
        (from, to) => Some(TimeRange {
            from: from.unwrap_or(NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN)),
            to: to.unwrap_or(today),
        }),
    };
    Ok(MetricQuery {
        metrics: a.metrics.iter().map(|m| m.trim().to_string()).collect(),
        group_by: a.by.iter().map(|m| m.trim().to_string()).collect(),
        grain,
        filters: wheres.filters,
        where_exprs: wheres.where_exprs,
        time_range,
        order,
        limit: a.limit,
        prior: None,
        to_date,
    })
}

fn cmd_query(config: Config, a: QueryArgs, today: NaiveDate) -> Result<ExitCode> {
    let query = query_from_args(&a, today)?;
    let engine = Engine::open(config)?;
    let ctx = AuditContext {
        requester: a
            .asker
            .as_ref()
            .map(|id| format!("slack:{id}"))
            .unwrap_or_else(requester),
        question: format!("cortex query {}", serde_json::to_string(&query)?),
        query_json: None,
    };
    let outcome = engine.query(&query, today, &ctx)?;
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Json => {
            let v = serde_json::json!({
                "query": query,
                "sql": outcome.compiled.sql,
                "columns": outcome.result.columns,
                "rows": outcome.result.rows,
                "truncated": outcome.result.truncated,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        Format::Table => {
            writeln!(
                out,
                "{}",
                text::table(&crate::answer::build::table(
                    None,
                    &outcome.result.columns,
                    &outcome.compiled.columns,
                    &outcome.result.rows,
                    &crate::answer::MetricInfo::of(&engine.layer, &query.metrics)
                ))
            )?;
            if outcome.result.truncated {
                writeln!(
                    out,
                    "(showing the first {} rows)",
                    outcome.result.rows.len()
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_sync_notion(config: &Config) -> Result<ExitCode> {
    let cfg = config.notion.as_ref().context(
        "Notion is not connected: set CORTEX_NOTION_TOKEN (or [notion] token in cortex.toml)",
    )?;
    let client = crate::notion::NotionClient::new(cfg)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let context_dir = config.project.join("context");
    let report = runtime.block_on(crate::notion::sync::sync(&client, cfg, &context_dir))?;
    for title in &report.fetched {
        println!("fetched: {title}");
    }
    if let Some(n) = report.okrs {
        println!("okrs: {n} OKRs from the OKR database");
    }
    println!(
        "{}: {} fetched, {} unchanged, {} files written",
        context_dir.join(crate::notion::sync::DIR).display(),
        report.fetched.len(),
        report.unchanged,
        report.written.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn requester() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_default())
}

fn cmd_ask(config: Config, a: AskArgs, today: NaiveDate) -> Result<ExitCode> {
    let question = a.question.join(" ");
    // Refused before anything is opened or planned.
    config.ask.check(&question).map_err(anyhow::Error::msg)?;
    let rt = crate::skills::run::Runtime::open(config)?;
    if let Some(id) = &a.asker {
        rt.context
            .person(id)
            .with_context(|| format!("{id} is not in context/people.yaml"))?;
    }
    let who = a.asker.clone().unwrap_or_else(requester);
    let llm = match &rt.engine.config.llm {
        Some(cfg) => Some(crate::llm::Llm::new(cfg)?),
        None => None,
    };
    // The same ask pipeline as Slack and the web site: follow-ups, clarifying choices,
    // LLM or offline routing, one deadline, and the answer recorded.
    let svc = std::sync::Arc::new(crate::service::Service::new(rt, llm, Some(today))?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let asked = runtime.block_on(svc.ask(crate::service::Request {
        question: question.clone(),
        asker: a.asker.clone(),
        requester: who,
        conversation: a.thread.clone().map(|key| crate::service::Conversation {
            channel: "cli".into(),
            key,
        }),
        choice: a.choice.clone(),
        place: crate::state::Place::default(),
    }));
    let answer = &*asked.answer;
    if a.publish == Some(PublishTo::Notion) {
        runtime.block_on(publish_to_notion(&svc, &asked, today))?;
    }
    let rt = &svc.rt;
    let skill = rt.skills.get(&answer.skill);
    let bytes: Vec<u8> = match a.format {
        AskFormat::Json => format!("{}\n", serde_json::to_string_pretty(answer)?).into_bytes(),
        AskFormat::Text => format!("{}\n", answer.text).into_bytes(),
        AskFormat::Slack => {
            let links = crate::render::slack::Links {
                base_url: Some(rt.engine.config.server.base_url()),
            };
            let blocks = crate::render::slack::blocks_linked(answer, &asked.id, &links);
            format!("{}\n", serde_json::to_string_pretty(&blocks)?).into_bytes()
        }
        AskFormat::Html => crate::render::html::page(
            answer,
            &crate::render::html::PageOptions {
                generated: Some(crate::service::generated_now()),
                ..Default::default()
            },
            skill.and_then(|s| s.html_template.as_deref()),
        )
        .map_err(|e| anyhow::anyhow!(e))?
        .into_bytes(),
        AskFormat::Pdf => {
            if a.out.is_none() {
                anyhow::bail!("--format pdf needs --out FILE (a PDF is not for a terminal)");
            }
            crate::render::pdf::render(
                answer,
                skill.and_then(|s| s.pdf_template.as_deref()),
                &crate::service::generated_now(),
            )
            .map_err(|e| anyhow::anyhow!(e))?
        }
    };
    match &a.out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("{} ({}): {}", path.display(), bytes.len(), answer.headline);
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(match answer.status {
        crate::answer::Status::Error => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// `cortex ask --publish notion`: enqueue the page, deliver once, say where it is.
async fn publish_to_notion(
    svc: &crate::service::Service,
    asked: &crate::service::Asked,
    today: NaiveDate,
) -> Result<()> {
    let config = &svc.rt.engine.config;
    let key = crate::notion::publish::enqueue_answer(
        &svc.outbox,
        config,
        &asked.answer,
        &asked.id,
        today,
    )?;
    let deliverers = crate::actions::deliverers(config)?;
    svc.outbox
        .deliver_due(&deliverers, chrono::Utc::now())
        .await?;
    match svc.outbox.get(&key)? {
        Some(w) if w.state == crate::outbox::WriteState::Done => {
            let url = w
                .result
                .as_ref()
                .and_then(|r| r["url"].as_str())
                .unwrap_or("");
            eprintln!("published to Notion: {url}");
        }
        Some(w) => eprintln!(
            "Notion page queued ({:?} after {} attempt{}): {}",
            w.state,
            w.attempts,
            if w.attempts == 1 { "" } else { "s" },
            w.last_error.unwrap_or_default()
        ),
        None => anyhow::bail!("the Notion write was not queued"),
    }
    Ok(())
}

fn cmd_test(config: Config, today: NaiveDate) -> Result<ExitCode> {
    let rt = crate::skills::run::Runtime::open(config)?;
    let report = crate::skills::testing::run_tests(&rt, today, &mut |l| eprintln!("{l}"));
    for m in &report.misses {
        println!("MISS {}\n     {}", m.question, m.why);
    }
    println!(
        "{} passed, {} failed",
        report.total - report.misses.len(),
        report.misses.len()
    );
    Ok(if report.misses.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn cmd_eval(config: Config, a: EvalArgs, today: NaiveDate) -> Result<ExitCode> {
    let gold = a.file.extension().is_some_and(|e| e == "jsonl");
    let rt = crate::skills::run::Runtime::open(config)?;
    let report = if gold {
        let cases = crate::eval::load_gold(&a.file)?;
        crate::eval::run_gold(&rt, &cases, today, &mut |line| eprintln!("{line}"))
    } else {
        let cases = crate::eval::load(&a.file)?;
        crate::eval::run(&rt, &cases, &mut |line| eprintln!("{line}"))
    };
    let mut out = std::io::stdout().lock();
    for m in &report.misses {
        let tag = if m.refused { "REFUSED" } else { "WRONG" };
        writeln!(out, "{tag} {}\n     {}", m.question.trim(), m.why)?;
    }
    writeln!(
        out,
        "correct: {}, wrong: {}, refused: {} (of {} questions; accuracy {:.1}%)",
        report.correct(),
        report.wrong(),
        report.refused(),
        report.total,
        report.accuracy() * 100.0,
    )?;
    // The question set must pass whole; against gold results, a refusal is not a failure
    // but a wrong answer always is.
    let failed = if gold {
        report.wrong() > 0 || a.min_correct.is_some_and(|n| report.correct() < n)
    } else {
        !report.misses.is_empty()
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
