//! PDF reports with typst as a library. The report is a typst file (the skill's
//! `report.typ`, or the built-in default) that reads the answer from `data.json`; charts are
//! SVG files beside it. Everything lives in memory and the fonts are embedded (Inter), so
//! reports look the same everywhere and need no system fonts or network.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Value as Json};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

use crate::answer::model::{Answer, Section};
use crate::format;
use crate::render::{chart, fonts, html};

/// Rows a PDF shows of one table (the web page and the CSV have the rest).
const PDF_ROWS: usize = 40;

const PRELUDE: &str = include_str!("../../assets/templates/cortex.typ");
const DEFAULT_REPORT: &str = include_str!("../../assets/templates/report.typ");

struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

fn embedded_fonts() -> &'static Fonts {
    static F: OnceLock<Fonts> = OnceLock::new();
    F.get_or_init(|| {
        let fonts: Vec<Font> = fonts::all()
            .iter()
            .flat_map(|data| Font::iter(Bytes::new(data.to_vec())))
            .collect();
        Fonts {
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    })
}

fn library() -> &'static LazyHash<Library> {
    static L: OnceLock<LazyHash<Library>> = OnceLock::new();
    L.get_or_init(|| LazyHash::new(Library::default()))
}

// Invariant: report paths are literals (`/report.typ`, `/chart-N.svg`).
#[allow(clippy::expect_used)]
fn file_id(path: &str) -> FileId {
    RootedPath::new(
        VirtualRoot::Project,
        VirtualPath::new(path).expect("invariant: report paths are valid"),
    )
    .intern()
}

/// An in-memory typst world: the report source plus named files.
struct ReportWorld {
    main: FileId,
    sources: HashMap<FileId, Source>,
    files: HashMap<FileId, Bytes>,
    today: chrono::NaiveDate,
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        library()
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &embedded_fonts().book
    }
    fn main(&self) -> FileId {
        self.main
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        self.sources
            .get(&id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(id.get().vpath().get_without_slash().into()))
    }
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if let Some(s) = self.sources.get(&id) {
            return Ok(Bytes::from_string(s.clone()));
        }
        self.files
            .get(&id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(id.get().vpath().get_without_slash().into()))
    }
    fn font(&self, index: usize) -> Option<Font> {
        embedded_fonts().fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        use chrono::Datelike;
        Datetime::from_ymd(
            self.today.year(),
            self.today.month() as u8,
            self.today.day() as u8,
        )
    }
}

/// What the report template reads from `data.json` (the web page's view, tables cut at
/// [`PDF_ROWS`], charts as SVG files beside it), and those files.
pub fn report_data(a: &Answer, generated: &str) -> (Json, Vec<(String, String)>) {
    let mut v = html::view(a, &html::PageOptions::default());
    let mut files = Vec::new();
    let mut sections = Vec::new();
    for (i, s) in a.sections.iter().enumerate() {
        let mut sv = html::section_view(s, PDF_ROWS);
        if let Some(o) = sv.as_object_mut() {
            o.remove("wide");
            o.remove("narrow");
            o.remove("records");
        }
        let mut draw = |c: &crate::answer::model::Chart, key: &str, sv: &mut Json| {
            let file = chart::svg(c, chart::WIDE.width, chart::WIDE.height)
                .ok()
                .map(|svg| {
                    let name = format!("chart-{i}.svg");
                    files.push((name.clone(), svg));
                    name
                });
            sv[key] = json!(file);
        };
        match s {
            Section::Chart(c) => draw(c, "file", &mut sv),
            Section::Okr(o) => match &o.chart {
                Some(c) => draw(c, "chart_file", &mut sv),
                None => sv["chart_file"] = Json::Null,
            },
            _ => {}
        }
        sections.push(sv);
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("sections".into(), Json::Array(sections));
        o.remove("tables");
        o.insert("generated".into(), json!(generated));
    }
    (v, files)
}

/// The file name of an answer's PDF: `merchant-brief-blue-fox-goods-2026-11-20.pdf`.
pub fn file_name(a: &Answer) -> String {
    let title = if a.skill == "metric_question" || a.title.is_empty() {
        html::title_of(a)
    } else {
        format!("{} {}", format::humanize(&a.skill), html::title_of(a))
    };
    let mut name = format::slug(&title, 60);
    if name.is_empty() {
        name = "cortex-answer".into();
    }
    match a.provenance.today {
        Some(d) => format!("{name}-{d}.pdf"),
        None => format!("{name}.pdf"),
    }
}

/// Renders an answer as a PDF with the skill's `report.typ` (or the default report).
pub fn render(a: &Answer, template: Option<&str>, generated: &str) -> Result<Vec<u8>, String> {
    let (data, charts) = report_data(a, generated);
    let main = file_id("/report.typ");
    let prelude = file_id("/cortex.typ");
    let mut sources = HashMap::new();
    sources.insert(
        main,
        Source::new(main, template.unwrap_or(DEFAULT_REPORT).to_string()),
    );
    sources.insert(prelude, Source::new(prelude, PRELUDE.to_string()));
    let mut files = HashMap::new();
    files.insert(
        file_id("/data.json"),
        Bytes::new(serde_json::to_vec(&data).map_err(|e| e.to_string())?),
    );
    for (name, svg) in charts {
        files.insert(file_id(&format!("/{name}")), Bytes::new(svg.into_bytes()));
    }
    let world = ReportWorld {
        main,
        sources,
        files,
        today: a.provenance.today.unwrap_or_default(),
    };
    let doc: typst_layout::PagedDocument = typst::compile(&world).output.map_err(|errs| {
        let msgs: Vec<String> = errs.iter().map(|e| e.message.to_string()).collect();
        format!(
            "the {} report template failed: {}",
            a.skill,
            msgs.join("; ")
        )
    })?;
    // Bound typst's memoisation cache in a long-running server (entries unused for 10
    // compilations are dropped), as the typst CLI does.
    typst::comemo::evict(10);
    typst_pdf::pdf(&doc, &typst_pdf::PdfOptions::default()).map_err(|errs| {
        let msgs: Vec<String> = errs.iter().map(|e| e.message.to_string()).collect();
        format!("PDF export failed: {}", msgs.join("; "))
    })
}
