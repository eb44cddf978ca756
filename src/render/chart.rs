//! Charts: a [`Chart`] from the answer model drawn as SVG with plotters (inline in HTML and
//! PDF), rasterised to PNG with resvg for Slack, which does not show SVG. Text uses the
//! embedded Inter font, never system fonts. What to chart is decided when the answer is
//! built ([`crate::answer::build`]); this module only draws.
//!
//! Legends sit under the plot, never over the data; target lines and projections are
//! drawn dashed; amounts start at zero while scores, rates and times fit their data.

use std::sync::{Arc, OnceLock};

use plotters::prelude::*;

use crate::answer::model::{Chart, ChartKind, Series};
use crate::format;
use crate::render::fonts;

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
const TARGET: RGBColor = RGBColor(0xB9, 0x1C, 0x1C);

/// The colour of series `i`, as CSS hex (the HTML legend uses the same colours).
pub fn color_hex(i: usize) -> String {
    let c = PALETTE[i % PALETTE.len()];
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Sizes in pixels for a surface: wide for desktop pages and PDFs, narrow for phones and
/// Slack (drawn at the size it is shown, so text stays about 13 px).
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

/// Desktop pages and PDF reports.
pub const WIDE: Size = Size {
    width: 760,
    height: 380,
};
/// Phones (a 390 px screen) and Slack previews.
pub const NARROW: Size = Size {
    width: 360,
    height: 300,
};

type DrawResult<T> = Result<T, String>;

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("chart drawing failed: {e}")
}

/// Draws the chart as SVG of the given size in pixels.
pub fn svg(c: &Chart, width: u32, height: u32) -> DrawResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        caption(c, &root, width)?;
        let entries = legend_entries(c);
        let rows = legend_rows(&entries, width);
        let legend_h = if rows.is_empty() {
            0
        } else {
            rows.len() as u32 * 20 + 8
        };
        let (plot, legend_area) = root.split_vertically(height.saturating_sub(legend_h));
        let plot = plot.margin(36, 0, 0, 0);
        let narrow = width < 500;
        match c.kind {
            ChartKind::Bar => draw_bars(c, &plot, narrow)?,
            ChartKind::Line => draw_lines(c, &plot, narrow)?,
            ChartKind::StackedBar => draw_stacked(c, &plot, narrow)?,
        }
        draw_legend(&legend_area, &rows)?;
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

/// The value axis: from zero for amounts, fitted with a margin for scores, rates and times;
/// targets and projections always inside.
fn value_range(c: &Chart, stacked: bool) -> (f64, f64) {
    let n = c.categories.len();
    let mut vals: Vec<f64> = Vec::new();
    if stacked {
        for i in 0..n {
            let (mut pos, mut neg) = (0.0, 0.0);
            for s in &c.series {
                match s.values.get(i).copied().flatten() {
                    Some(v) if v >= 0.0 => pos += v,
                    Some(v) => neg += v,
                    None => {}
                }
            }
            vals.push(pos);
            vals.push(neg);
        }
    } else {
        vals.extend(c.series.iter().flat_map(|s| s.values.iter().flatten()));
    }
    vals.extend(c.references.iter().map(|r| r.value));
    let mut lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if c.from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi == lo {
        let d = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let pad = (hi - lo) * 0.1;
    let lo = if c.from_zero && lo >= 0.0 {
        0.0
    } else {
        lo - pad
    };
    (lo, hi + pad)
}

fn caption(c: &Chart, root: &Area, width: u32) -> DrawResult<()> {
    let size = if width < 500 { 15.0 } else { 18.0 };
    let max_chars = (width as f64 / (size * 0.55)) as usize;
    let mut title = c.title.clone();
    if title.chars().count() > max_chars {
        title = title
            .chars()
            .take(max_chars.saturating_sub(1))
            .collect::<String>()
            + "…";
    }
    root.draw(&Text::new(
        title,
        (12, 10),
        (FAMILY_LIST, size, FontStyle::Bold).into_font().color(&INK),
    ))
    .map_err(err)
}

/// One legend entry: a name and how it is drawn.
struct Entry {
    name: String,
    color: RGBColor,
    dashed: bool,
}

fn legend_entries(c: &Chart) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    if c.series.len() > 1 || !c.references.is_empty() {
        for (i, s) in c.series.iter().enumerate() {
            out.push(Entry {
                name: s.name.clone(),
                color: series_color(c, i),
                dashed: s.projected,
            });
        }
    }
    for r in &c.references {
        out.push(Entry {
            name: r.label.clone(),
            color: TARGET,
            dashed: true,
        });
    }
    out
}

fn series_color(c: &Chart, i: usize) -> RGBColor {
    // A projection continues its actual series in the same colour.
    match c.series.get(i) {
        Some(Series {
            projected: true, ..
        }) if i > 0 => PALETTE[(i - 1) % PALETTE.len()],
        _ => PALETTE[i % PALETTE.len()],
    }
}

/// Legend entries laid out in rows that fit the width (about 7 px a character at 13 px).
fn legend_rows(entries: &[Entry], width: u32) -> Vec<Vec<(u32, &Entry)>> {
    let mut rows: Vec<Vec<(u32, &Entry)>> = Vec::new();
    let mut x = 12u32;
    for e in entries {
        let w = 26 + e.name.chars().count().min(28) as u32 * 7 + 14;
        if rows.is_empty() || x + w > width {
            rows.push(Vec::new());
            x = 12;
        }
        if let Some(r) = rows.last_mut() {
            r.push((x, e));
        }
        x += w;
    }
    rows
}

fn draw_legend(area: &Area, rows: &[Vec<(u32, &Entry)>]) -> DrawResult<()> {
    for (ri, row) in rows.iter().enumerate() {
        let y = 4 + ri as i32 * 20 + 8;
        for (x, e) in row {
            let x = *x as i32;
            if e.dashed {
                for k in 0..3 {
                    area.draw(&PathElement::new(
                        vec![(x + k * 7, y), (x + k * 7 + 4, y)],
                        e.color.stroke_width(2),
                    ))
                    .map_err(err)?;
                }
            } else {
                area.draw(&Rectangle::new(
                    [(x, y - 5), (x + 16, y + 5)],
                    e.color.filled(),
                ))
                .map_err(err)?;
            }
            let name: String = if e.name.chars().count() > 28 {
                e.name.chars().take(27).collect::<String>() + "…"
            } else {
                e.name.clone()
            };
            area.draw(&Text::new(name, (x + 22, y - 7), font(13.0)))
                .map_err(err)?;
        }
    }
    Ok(())
}

fn draw_bars(c: &Chart, root: &Area, narrow: bool) -> DrawResult<()> {
    let n = c.categories.len();
    let (lo, hi) = value_range(c, false);
    let longest = c
        .categories
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(4);
    let max_label = if narrow { 110 } else { 220 };
    let label_width = (longest as u32 * 7 + 16).clamp(50, max_label);
    let max_chars = ((label_width - 16) / 7) as usize;
    let mut chart = ChartBuilder::on(root)
        .margin_right(if narrow { 40 } else { 56 })
        .margin_left(8)
        .margin_bottom(4)
        .x_label_area_size(36)
        .y_label_area_size(label_width)
        .build_cartesian_2d(lo..hi * 1.08, (0..n.max(2) - 1).into_segmented())
        .map_err(err)?;
    let cats: Vec<String> = c
        .categories
        .iter()
        .map(|l| {
            if l.chars().count() > max_chars {
                l.chars()
                    .take(max_chars.saturating_sub(1))
                    .collect::<String>()
                    + "…"
            } else {
                l.clone()
            }
        })
        .collect();
    let unit = c.unit;
    house_style(&mut chart.configure_mesh())
        .disable_y_mesh()
        .x_labels(if narrow { 3 } else { 6 })
        .x_label_formatter(&|v| format::axis(*v, unit))
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
    let Some(first) = c.series.first() else {
        return Ok(());
    };
    // The first category at the top.
    let bars = first.values.iter().enumerate().filter_map(|(i, v)| {
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
    let labels = first.values.iter().enumerate().filter_map(|(i, v)| {
        let y = n - 1 - i;
        v.map(|v| {
            Text::new(
                format::axis(v, unit),
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

/// Which category labels to show: every k-th, so at most `max` fit.
fn every(n: usize, narrow: bool) -> usize {
    let max = if narrow { 4 } else { 8 };
    n.div_ceil(max).max(1)
}

fn draw_lines(c: &Chart, root: &Area, narrow: bool) -> DrawResult<()> {
    let n = c.categories.len();
    let (lo, hi) = value_range(c, false);
    let unit = c.unit;
    let cats = c.categories.clone();
    let step = every(n, narrow);
    let mut chart = ChartBuilder::on(root)
        .margin_right(if narrow { 14 } else { 24 })
        .margin_left(8)
        .margin_bottom(4)
        .x_label_area_size(36)
        .y_label_area_size(if narrow { 52 } else { 72 })
        .build_cartesian_2d(-0.3f64..(n.max(2) - 1) as f64 + 0.3, lo..hi)
        .map_err(err)?;
    house_style(&mut chart.configure_mesh())
        .disable_x_mesh()
        .x_labels(n.min(60))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 0.01 || i < 0.0 || !(i as usize).is_multiple_of(step) {
                return String::new();
            }
            cats.get(i as usize).cloned().unwrap_or_default()
        })
        .y_labels(if narrow { 4 } else { 6 })
        .y_label_formatter(&|v| format::axis(*v, unit))
        .y_desc(if narrow {
            String::new()
        } else {
            c.value_label.clone()
        })
        .draw()
        .map_err(err)?;
    for r in &c.references {
        dashed(
            &mut chart,
            &[(-0.3, r.value), ((n.max(2) - 1) as f64 + 0.3, r.value)],
            TARGET,
        )?;
    }
    for (si, s) in c.series.iter().enumerate() {
        let color = series_color(c, si);
        let points: Vec<(f64, f64)> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
            .collect();
        if s.projected {
            dashed(&mut chart, &points, color)?;
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(err)?;
        if points.len() <= 24 {
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// A dashed polyline through `points` (plotters has no dash style for SVG lines).
fn dashed<'a>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    points: &[(f64, f64)],
    color: RGBColor,
) -> DrawResult<()> {
    let mut segs = Vec::new();
    for w in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        // About one dash per 8 px of a 760 px axis, whatever the segment's length.
        let parts = if points.len() == 2 { 80 } else { 12 };
        for k in (0..parts).step_by(2) {
            let t0 = k as f64 / parts as f64;
            let t1 = (k + 1) as f64 / parts as f64;
            segs.push(PathElement::new(
                vec![
                    (x0 + (x1 - x0) * t0, y0 + (y1 - y0) * t0),
                    (x0 + (x1 - x0) * t1, y0 + (y1 - y0) * t1),
                ],
                color.stroke_width(2),
            ));
        }
    }
    chart.draw_series(segs).map_err(err)?;
    Ok(())
}

fn draw_stacked(c: &Chart, root: &Area, narrow: bool) -> DrawResult<()> {
    let n = c.categories.len();
    let (lo, hi) = value_range(c, true);
    let unit = c.unit;
    let cats = c.categories.clone();
    let step = every(n, narrow);
    let mut chart = ChartBuilder::on(root)
        .margin_right(if narrow { 14 } else { 24 })
        .margin_left(8)
        .margin_bottom(4)
        .x_label_area_size(36)
        .y_label_area_size(if narrow { 52 } else { 72 })
        .build_cartesian_2d((0..n.max(2) - 1).into_segmented(), lo..hi)
        .map_err(err)?;
    house_style(&mut chart.configure_mesh())
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if i.is_multiple_of(step) => {
                cats.get(*i).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .y_labels(if narrow { 4 } else { 6 })
        .y_label_formatter(&|v| format::axis(*v, unit))
        .y_desc(if narrow {
            String::new()
        } else {
            c.value_label.clone()
        })
        .draw()
        .map_err(err)?;
    let mut base_pos = vec![0.0f64; n];
    let mut base_neg = vec![0.0f64; n];
    for (si, s) in c.series.iter().enumerate() {
        let color = series_color(c, si);
        let mut rects = Vec::new();
        for (i, v) in s.values.iter().enumerate().take(n) {
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
        chart.draw_series(rects).map_err(err)?;
    }
    Ok(())
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
    use crate::answer::model::{Reference, Unit};

    fn bar() -> Chart {
        Chart {
            kind: ChartKind::Bar,
            title: "ARR by segment".into(),
            categories: vec!["Enterprise".into(), "Mid-Market".into(), "SMB".into()],
            series: vec![Series {
                name: "ARR".into(),
                values: vec![Some(90e6), Some(40e6), Some(12e6)],
                projected: false,
            }],
            unit: Unit::Usd,
            value_label: "ARR (USD)".into(),
            category_label: "Segment".into(),
            references: Vec::new(),
            from_zero: true,
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

    #[test]
    fn scores_fit_their_data_and_targets_are_inside_the_axis() {
        let mut c = bar();
        c.kind = ChartKind::Line;
        c.unit = Unit::Score;
        c.from_zero = false;
        c.series[0].values = vec![Some(4.21), Some(4.25), Some(4.30)];
        let (lo, hi) = value_range(&c, false);
        assert!(
            lo > 4.0 && hi < 4.5,
            "a score axis fits the data: {lo}..{hi}"
        );
        assert!(hi > 4.30 && lo < 4.21, "every point is inside: {lo}..{hi}");
        c.references.push(Reference {
            label: "Target 4.5".into(),
            value: 4.5,
        });
        let (_, hi) = value_range(&c, false);
        assert!(hi > 4.5, "the target line is inside the axis: {hi}");
        let s = svg(&c, 760, 380).expect("draws");
        assert!(s.contains("Target 4.5"), "the target is in the legend");
    }

    #[test]
    fn legends_sit_below_the_plot() {
        let mut c = bar();
        c.kind = ChartKind::StackedBar;
        c.series.push(Series {
            name: "Second".into(),
            values: vec![Some(1e6), Some(2e6), Some(3e6)],
            projected: false,
        });
        let entries = legend_entries(&c);
        assert_eq!(entries.len(), 2);
        let s = svg(&c, 360, 300).expect("draws");
        // The legend text is drawn in the strip under the plot (y > 300 - 28).
        let at = s.find("Second").expect("legend entry");
        let tag_start = s[..at].rfind("<text").expect("text element");
        let tag = &s[tag_start..at];
        let y: f64 = tag
            .split("y=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .expect("y attribute");
        assert!(y > 270.0, "legend at y={y}: {tag}");
    }
}
