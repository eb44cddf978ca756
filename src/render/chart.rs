//! Charts for answers that are a trend or a breakdown: chosen from the answer's columns,
//! drawn as SVG with plotters (inline in HTML and PDF), rasterised to PNG with resvg for
//! Slack, which does not show SVG. Text uses the embedded Inter font, never system fonts.

use std::sync::{Arc, OnceLock};

use plotters::prelude::*;
use serde::Serialize;

use crate::answer::{Answer, MetricInfo, Status};
use crate::render::fonts;
use crate::render::text::format_number;
use crate::semantic::{Column, ColumnRole, Grain, Unit};
use crate::warehouse::Value;

/// What kind of picture fits the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// One value per category (horizontal bars, in the answer's order).
    Bar,
    /// A metric over time, one line per series.
    Line,
    /// Additive metric over time or categories, split by a second dimension.
    StackedBar,
}

/// One named series of values, aligned with the chart's categories.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Chart data, independent of how it is drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub kind: ChartKind,
    pub title: String,
    /// Category or time-bucket labels along the axis.
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub unit: Unit,
    /// Axis title for the values ("ARR (USD)").
    pub value_label: String,
    /// Axis title for the categories ("Segment", "Month").
    pub category_label: String,
}

/// Most series drawn; the rest are summed into "Other" (additive) or left out.
const MAX_SERIES: usize = 6;
/// Most bars in a bar chart.
const MAX_BARS: usize = 15;

const PALETTE: [RGBColor; 10] = [
    RGBColor(0x2F, 0x6B, 0xD8),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0x2E, 0xA8, 0x7E),
    RGBColor(0xD6, 0x45, 0x5D),
    RGBColor(0x8E, 0x6C, 0xC9),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xE3, 0xB5, 0x05),
    RGBColor(0x5D, 0xA5, 0xDA),
    RGBColor(0x76, 0x76, 0x76),
    RGBColor(0xB0, 0x7A, 0xA1),
];

const INK: RGBColor = RGBColor(0x1F, 0x29, 0x37);
const MUTED: RGBColor = RGBColor(0x6B, 0x72, 0x80);
const GRID: RGBColor = RGBColor(0xE5, 0xE7, 0xEB);

/// The colour of series `i`, as CSS hex (the HTML legend uses the same colours).
pub fn color_hex(i: usize) -> String {
    let c = PALETTE[i % PALETTE.len()];
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn unit_suffix(u: Unit) -> &'static str {
    match u {
        Unit::Usd => " (USD)",
        Unit::Ratio | Unit::Percent => " (%)",
        Unit::Seconds => " (seconds)",
        Unit::Minutes => " (minutes)",
        Unit::Hours => " (hours)",
        Unit::Days => " (days)",
        Unit::Count | Unit::Score => "",
    }
}

/// Short numbers for axes: `$1.2M`, `340K`, `23%`.
pub fn compact(v: f64, unit: Unit) -> String {
    let scaled = |x: f64| {
        let a = x.abs();
        let (d, s) = if a >= 1e9 {
            (1e9, "B")
        } else if a >= 1e6 {
            (1e6, "M")
        } else if a >= 1e3 {
            (1e3, "K")
        } else {
            (1.0, "")
        };
        let n = x / d;
        if s.is_empty() {
            if n.fract().abs() < 1e-9 {
                format!("{n:.0}")
            } else {
                format!("{n:.1}")
            }
        } else if (n * 10.0).fract().abs() < 1e-9 && n.fract().abs() > 1e-9 {
            format!("{n:.1}{s}")
        } else if n.fract().abs() < 1e-9 {
            format!("{n:.0}{s}")
        } else {
            format!("{n:.1}{s}")
        }
    };
    match unit {
        Unit::Usd => {
            if v < 0.0 {
                format!("-${}", scaled(-v))
            } else {
                format!("${}", scaled(v))
            }
        }
        Unit::Ratio => format!("{:.0}%", v * 100.0),
        Unit::Percent => format!("{v:.0}%"),
        Unit::Count => scaled(v),
        _ => format_number(v, unit),
    }
}

fn bucket_label(v: &Value, grain: Grain) -> String {
    let Value::Date(d) = v else {
        return crate::render::text::format_value(v, None);
    };
    match grain {
        Grain::Year => d.format("%Y").to_string(),
        Grain::Quarter => format!(
            "Q{} {}",
            (chrono::Datelike::month(d) - 1) / 3 + 1,
            d.format("%Y")
        ),
        Grain::Month => d.format("%b %Y").to_string(),
        Grain::Week | Grain::Day => d.format("%b %-d").to_string(),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        other => crate::render::text::format_value(other, None),
    }
}

/// The chart that fits an answer, if any: a trend (time bucket + metric), a breakdown
/// (dimension + metric), or either split by a second dimension.
pub fn from_answer(a: &Answer) -> Option<Chart> {
    if a.status != Status::Answered {
        return None;
    }
    from_table(&a.column_meta, &a.rows, &a.provenance.metrics)
}

/// The chart for rows whose columns have these roles; `metrics` supplies labels.
pub fn from_table(meta: &[Column], rows: &[Vec<Value>], metrics: &[MetricInfo]) -> Option<Chart> {
    if rows.len() < 2 || meta.is_empty() {
        return None;
    }
    let time = meta
        .iter()
        .position(|c| matches!(c.role, ColumnRole::Time { .. }));
    let dims: Vec<usize> = (0..meta.len())
        .filter(|&i| matches!(meta[i].role, ColumnRole::Dimension | ColumnRole::Identifier))
        .collect();
    let (metric, unit) = meta.iter().enumerate().find_map(|(i, c)| match c.role {
        ColumnRole::Metric { unit } => Some((i, unit)),
        _ => None,
    })?;
    let metric_name = &meta[metric].name;
    let metric_label = metrics
        .iter()
        .find(|m| &m.name == metric_name)
        .map(|m| m.label.clone())
        .unwrap_or_else(|| metric_name.replace('_', " "));
    let additive = matches!(unit, Unit::Usd | Unit::Count);
    let value_label = format!("{metric_label}{}", unit_suffix(unit));
    let (category_col, split_col, grain) = match (time, dims.as_slice()) {
        (Some(t), []) => (t, None, grain_of(&meta[t].role)),
        (Some(t), [d, ..]) => (t, Some(*d), grain_of(&meta[t].role)),
        (None, [d]) => (*d, None, None),
        (None, [d, e, ..]) if additive => (*d, Some(*e), None),
        _ => return None,
    };
    let label_of = |v: &Value| match grain {
        Some(g) => bucket_label(v, g),
        None => text_of(v),
    };
    // Categories in first-seen order (the query's order: time ascending, or ranked).
    let mut categories: Vec<String> = Vec::new();
    let mut cat_index = std::collections::HashMap::new();
    for r in rows {
        let l = label_of(&r[category_col]);
        if !cat_index.contains_key(&l) {
            cat_index.insert(l.clone(), categories.len());
            categories.push(l);
        }
    }
    let category_label = crate::render::text::title_case(&meta[category_col].name);
    let title = match split_col {
        Some(s) => format!(
            "{metric_label} by {}{}",
            meta[s].name.replace('_', " "),
            if grain.is_some() { " over time" } else { "" }
        ),
        None if grain.is_some() => format!("{metric_label} over time"),
        None => format!(
            "{metric_label} by {}",
            meta[category_col].name.replace('_', " ")
        ),
    };
    let series = match split_col {
        None => {
            let mut values = vec![None; categories.len()];
            for r in rows {
                values[cat_index[&label_of(&r[category_col])]] = r[metric].as_f64();
            }
            vec![Series {
                name: metric_label.clone(),
                values,
            }]
        }
        Some(s) => {
            let mut names: Vec<String> = Vec::new();
            let mut by_name: std::collections::HashMap<String, Vec<Option<f64>>> =
                Default::default();
            for r in rows {
                let n = text_of(&r[s]);
                let e = by_name.entry(n.clone()).or_insert_with(|| {
                    names.push(n.clone());
                    vec![None; categories.len()]
                });
                e[cat_index[&label_of(&r[category_col])]] = r[metric].as_f64();
            }
            let total = |v: &Vec<Option<f64>>| v.iter().flatten().map(|x| x.abs()).sum::<f64>();
            names.sort_by(|x, y| total(&by_name[y]).total_cmp(&total(&by_name[x])));
            let mut out: Vec<Series> = names
                .iter()
                .take(MAX_SERIES)
                .map(|n| Series {
                    name: n.clone(),
                    values: by_name[n].clone(),
                })
                .collect();
            if names.len() > MAX_SERIES && additive {
                let mut other = vec![None; categories.len()];
                for n in &names[MAX_SERIES..] {
                    for (i, v) in by_name[n].iter().enumerate() {
                        if let Some(v) = v {
                            other[i] = Some(other[i].unwrap_or(0.0) + v);
                        }
                    }
                }
                out.push(Series {
                    name: "Other".into(),
                    values: other,
                });
            }
            out
        }
    };
    let kind = match (grain.is_some(), split_col.is_some()) {
        (true, false) => ChartKind::Line,
        (true, true) if additive && categories.len() <= 24 => ChartKind::StackedBar,
        (true, true) => ChartKind::Line,
        (false, false) => ChartKind::Bar,
        (false, true) => ChartKind::StackedBar,
    };
    let mut chart = Chart {
        kind,
        title,
        categories,
        series,
        unit,
        value_label,
        category_label,
    };
    if chart.kind == ChartKind::Bar && chart.categories.len() > MAX_BARS {
        chart.categories.truncate(MAX_BARS);
        chart.series[0].values.truncate(MAX_BARS);
        chart.title.push_str(&format!(" (top {MAX_BARS})"));
    }
    Some(chart)
}

/// The chart for one skill step's result (a metric step: `raw_rows` plus `column_meta`).
pub fn from_step(step: &serde_json::Value, metrics: &[MetricInfo]) -> Option<Chart> {
    let meta: Vec<Column> = serde_json::from_value(step.get("column_meta")?.clone()).ok()?;
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_value(step.get("raw_rows")?.clone()).ok()?;
    let rows: Vec<Vec<Value>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(crate::skills::run::json_to_cell)
                .collect()
        })
        .collect();
    from_table(&meta, &rows, metrics)
}

fn grain_of(role: &ColumnRole) -> Option<Grain> {
    match role {
        ColumnRole::Time { grain } => Some(*grain),
        _ => None,
    }
}

type DrawResult<T> = Result<T, String>;

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("chart drawing failed: {e}")
}

/// Draws the chart as SVG of the given size in pixels.
pub fn svg(c: &Chart, width: u32, height: u32) -> DrawResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        match c.kind {
            ChartKind::Bar => draw_bars(c, &root)?,
            ChartKind::Line => draw_lines(c, &root)?,
            ChartKind::StackedBar => draw_stacked(c, &root)?,
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// Inter (embedded for PNG and PDF), then the browser's sans-serif.
const FAMILY_LIST: &str = "Inter, Helvetica, Arial, sans-serif";

fn font(size: f64) -> TextStyle<'static> {
    (FAMILY_LIST, size).into_font().color(&INK)
}

fn muted(size: f64) -> TextStyle<'static> {
    (FAMILY_LIST, size).into_font().color(&MUTED)
}

fn value_range(c: &Chart, stacked: bool) -> (f64, f64) {
    let n = c.categories.len();
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    if stacked {
        for i in 0..n {
            let (mut pos, mut neg) = (0.0, 0.0);
            for s in &c.series {
                match s.values[i] {
                    Some(v) if v >= 0.0 => pos += v,
                    Some(v) => neg += v,
                    None => {}
                }
            }
            hi = hi.max(pos);
            lo = lo.min(neg);
        }
    } else {
        for v in c.series.iter().flat_map(|s| s.values.iter().flatten()) {
            hi = hi.max(*v);
            lo = lo.min(*v);
        }
    }
    if hi == lo {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.08;
    (if lo < 0.0 { lo - pad } else { lo }, hi + pad)
}

fn caption(c: &Chart, root: &DrawingArea<SVGBackend, plotters::coord::Shift>) -> DrawResult<()> {
    root.draw(&Text::new(
        c.title.clone(),
        (16, 12),
        (FAMILY_LIST, 19.0, FontStyle::Bold).into_font().color(&INK),
    ))
    .map_err(err)
}

fn draw_bars(c: &Chart, root: &DrawingArea<SVGBackend, plotters::coord::Shift>) -> DrawResult<()> {
    caption(c, root)?;
    let n = c.categories.len();
    let (lo, hi) = value_range(c, false);
    let longest = c
        .categories
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(4);
    let label_width = (longest as u32 * 8 + 16).clamp(60, 220);
    let mut chart = ChartBuilder::on(root)
        .margin_top(44)
        .margin_right(56)
        .margin_left(12)
        .margin_bottom(8)
        .x_label_area_size(40)
        .y_label_area_size(label_width)
        .build_cartesian_2d(lo..hi, (0..n.max(2) - 1).into_segmented())
        .map_err(err)?;
    let cats = c.categories.clone();
    let unit = c.unit;
    house_style(&mut chart.configure_mesh())
        .disable_y_mesh()
        .x_labels(6)
        .x_label_formatter(&|v| compact(*v, unit))
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => cats
                .get(n.saturating_sub(1).saturating_sub(*i))
                .cloned()
                .unwrap_or_default(),
            SegmentValue::Last => String::new(),
        })
        .y_labels(n)
        .x_desc(c.value_label.clone())
        .draw()
        .map_err(err)?;
    let color = PALETTE[0];
    // The first category at the top.
    let bars = c.series[0].values.iter().enumerate().filter_map(|(i, v)| {
        let y = n - 1 - i;
        v.map(|v| {
            let mut r = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(y)),
                    (v, SegmentValue::Exact(y + 1)),
                ],
                color.filled(),
            );
            r.set_margin(4, 4, 0, 0);
            r
        })
    });
    chart.draw_series(bars).map_err(err)?;
    let labels = c.series[0].values.iter().enumerate().filter_map(|(i, v)| {
        let y = n - 1 - i;
        v.map(|v| {
            Text::new(
                compact(v, unit),
                (v, SegmentValue::CenterOf(y)),
                muted(12.0).pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Center,
                )),
            )
        })
    });
    chart.draw_series(labels).map_err(err)?;
    Ok(())
}

fn draw_lines(c: &Chart, root: &DrawingArea<SVGBackend, plotters::coord::Shift>) -> DrawResult<()> {
    caption(c, root)?;
    let n = c.categories.len();
    let (lo, hi) = value_range(c, false);
    let unit = c.unit;
    let cats = c.categories.clone();
    let mut chart = ChartBuilder::on(root)
        .margin_top(44)
        .margin_right(24)
        .margin_left(12)
        .margin_bottom(8)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..(n.max(2) - 1) as f64, lo..hi)
        .map_err(err)?;
    house_style(&mut chart.configure_mesh())
        .disable_x_mesh()
        .x_labels(n.min(8))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 0.01 || i < 0.0 {
                return String::new();
            }
            cats.get(i as usize).cloned().unwrap_or_default()
        })
        .y_labels(6)
        .y_label_formatter(&|v| compact(*v, unit))
        .y_desc(c.value_label.clone())
        .draw()
        .map_err(err)?;
    for (si, s) in c.series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let points: Vec<(f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
            .collect();
        let series = chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(err)?;
        if c.series.len() > 1 {
            series.label(s.name.clone()).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
            });
        }
        if points.len() <= 24 {
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?;
        }
    }
    if c.series.len() > 1 {
        legend(&mut chart)?;
    }
    Ok(())
}

fn draw_stacked(
    c: &Chart,
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
) -> DrawResult<()> {
    caption(c, root)?;
    let n = c.categories.len();
    let (lo, hi) = value_range(c, true);
    let unit = c.unit;
    let cats = c.categories.clone();
    let every = n.div_ceil(8).max(1);
    let mut chart = ChartBuilder::on(root)
        .margin_top(44)
        .margin_right(24)
        .margin_left(12)
        .margin_bottom(8)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d((0..n.max(2) - 1).into_segmented(), lo..hi * 1.12)
        .map_err(err)?;
    house_style(&mut chart.configure_mesh())
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if i % every == 0 => {
                cats.get(*i).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .y_labels(6)
        .y_label_formatter(&|v| compact(*v, unit))
        .y_desc(c.value_label.clone())
        .draw()
        .map_err(err)?;
    let mut base_pos = vec![0.0f64; n];
    let mut base_neg = vec![0.0f64; n];
    for (si, s) in c.series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let mut rects = Vec::new();
        for (i, v) in s.values.iter().enumerate() {
            let Some(v) = *v else { continue };
            let base = if v >= 0.0 {
                &mut base_pos[i]
            } else {
                &mut base_neg[i]
            };
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), *base),
                    (SegmentValue::Exact(i + 1), *base + v),
                ],
                color.filled(),
            );
            r.set_margin(0, 0, 3, 3);
            rects.push(r);
            *base += v;
        }
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    legend(&mut chart)
}

/// The series legend, top left.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
) -> DrawResult<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(font(13.0))
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .draw()
        .map_err(err)
}

/// The house look of axes and grid: light rules at the labels only.
fn house_style<'m, 'a, 'b, X: Ranged, Y: Ranged>(
    m: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, SVGBackend<'a>>,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, SVGBackend<'a>> {
    m.light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(GRID)
        .label_style(font(13.0))
        .axis_desc_style(muted(13.0))
}

fn font_db() -> Arc<resvg::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        for f in fonts::all() {
            db.load_font_data(f.to_vec());
        }
        db.set_sans_serif_family(fonts::FAMILY);
        Arc::new(db)
    })
    .clone()
}

/// Rasterises SVG to PNG at `scale` (2.0 for sharp text on high-density screens).
pub fn png(svg: &str, scale: f32) -> Result<Vec<u8>, String> {
    use resvg::{tiny_skia, usvg};
    let opt = usvg::Options {
        fontdb: font_db(),
        font_family: fonts::FAMILY.to_string(),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &opt).map_err(|e| format!("chart SVG is invalid: {e}"))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or("chart size is zero")?;
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("chart size is zero")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| format!("PNG encoding failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(1_234_567.0, Unit::Usd), "$1.2M");
        assert_eq!(compact(340_000.0, Unit::Count), "340K");
        assert_eq!(compact(0.231, Unit::Ratio), "23%");
        assert_eq!(compact(12.0, Unit::Count), "12");
        assert_eq!(compact(-2_500.0, Unit::Usd), "-$2.5K");
    }

    fn bar() -> Chart {
        Chart {
            kind: ChartKind::Bar,
            title: "ARR by segment".into(),
            categories: vec!["Enterprise".into(), "Mid-Market".into(), "SMB".into()],
            series: vec![Series {
                name: "ARR".into(),
                values: vec![Some(90e6), Some(40e6), Some(12e6)],
            }],
            unit: Unit::Usd,
            value_label: "ARR (USD)".into(),
            category_label: "Segment".into(),
        }
    }

    #[test]
    fn bar_chart_svg_has_labels_and_rasterises() {
        let s = svg(&bar(), 720, 360).expect("draws");
        assert!(s.contains("Enterprise") && s.contains("$90M"), "{s}");
        assert!(s.contains("ARR by segment"));
        let p = png(&s, 1.0).expect("png");
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        // 720x360: width and height in the IHDR chunk.
        assert_eq!(u32::from_be_bytes([p[16], p[17], p[18], p[19]]), 720);
        assert_eq!(u32::from_be_bytes([p[20], p[21], p[22], p[23]]), 360);
    }
}
