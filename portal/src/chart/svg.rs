//! Drawing a [`Trend`] as SVG text. Geometry is in a fixed view box; the page's
//! CSS scales it to the screen, so phones and desktops get the same chart.

use std::fmt::Write;

use cohealth_store::SeriesPoint;

use super::ticks::{decimals, nice_y, x_ticks};
use super::{Style, Trend, bucket_ms};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 28.0;

/// The plot's mapping from (ms, value) to view-box coordinates.
struct Plot {
    from: f64,
    to: f64,
    lo: f64,
    hi: f64,
}

impl Plot {
    fn x(&self, ms: f64) -> f64 {
        LEFT + (ms - self.from) / (self.to - self.from) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        let v = v.clamp(self.lo, self.hi);
        HEIGHT - BOTTOM - (v - self.lo) / (self.hi - self.lo) * (HEIGHT - TOP - BOTTOM)
    }
}

/// Draws a trend as a standalone `<svg>` element.
pub fn render(trend: &Trend<'_>) -> String {
    let (lo, hi) = value_span(trend);
    let (lo, hi, step) = nice_y(lo, hi);
    let plot = Plot {
        from: trend.from_ms as f64,
        to: trend.to_ms as f64,
        lo,
        hi,
    };
    let mut out = String::with_capacity(16 * 1024 + trend.points.len() * 40);
    open_svg(&mut out, trend, &plot);
    draw_axes(&mut out, trend, &plot, step);
    if trend.points.is_empty() {
        let _ = write!(
            out,
            r#"<text class="empty" x="{}" y="{}">No data in this range</text>"#,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
    }
    match trend.style {
        Style::Bars => draw_bars(&mut out, trend, &plot),
        Style::Band | Style::Line => {
            for segment in segments(trend) {
                draw_segment(
                    &mut out,
                    trend.style,
                    segment,
                    &plot,
                    bucket_ms(trend.bucket) as f64,
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// The values the y axis must show: min–max for bands, means for lines, 0–max for bars.
fn value_span(trend: &Trend<'_>) -> (f64, f64) {
    let values = trend.points.iter().filter(|p| p.count > 0);
    let (lo, hi) = match trend.style {
        Style::Band => values.fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.min), hi.max(p.max))
        }),
        Style::Line => values
            .map(mean)
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v))),
        Style::Bars => (0.0, values.map(|p| p.sum).fold(0.0, f64::max)),
    };
    if lo > hi { (0.0, 1.0) } else { (lo, hi) }
}

fn mean(p: &SeriesPoint) -> f64 {
    p.sum / p.count.max(1) as f64
}

fn open_svg(out: &mut String, trend: &Trend<'_>, plot: &Plot) {
    let id = format!("chart-{}", trend.metric.as_str());
    let _ = write!(
        out,
        r#"<svg class="chart chart-{style}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title" data-metric="{metric}" data-from="{from}" data-to="{to}" data-lo="{lo}" data-hi="{hi}" data-left="{LEFT}" data-top="{TOP}" data-right="{r}" data-bottom="{b}"><title id="{id}-title">{title} ({unit})</title>"#,
        style = style_name(trend.style),
        metric = trend.metric.as_str(),
        from = trend.from_ms,
        to = trend.to_ms,
        lo = plot.lo,
        hi = plot.hi,
        r = WIDTH - RIGHT,
        b = HEIGHT - BOTTOM,
        title = minijinja::HtmlEscape(trend.title),
        unit = trend.unit,
    );
}

fn style_name(style: Style) -> &'static str {
    match style {
        Style::Band => "band",
        Style::Line => "line",
        Style::Bars => "bars",
    }
}

fn draw_axes(out: &mut String, trend: &Trend<'_>, plot: &Plot, step: f64) {
    let places = decimals(step);
    let mut v = plot.lo;
    while v <= plot.hi + step / 2.0 {
        let y = plot.y(v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="ylabel" x="{lx}" y="{ly:.1}">{v:.places$}</text>"#,
            x2 = WIDTH - RIGHT,
            lx = LEFT - 6.0,
            ly = y + 4.0,
        );
        v += step;
    }
    for (ms, label) in x_ticks(trend.range, trend.tz, trend.from_ms, trend.to_ms) {
        let x = plot.x(ms as f64);
        let _ = write!(
            out,
            r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{y2}"/><text class="xlabel" x="{x:.1}" y="{ly}">{label}</text>"#,
            y2 = HEIGHT - BOTTOM + 4.0,
            ly = HEIGHT - 8.0,
        );
    }
    let _ = write!(
        out,
        r#"<text class="unit" x="4" y="12">{}</text><line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{b}"/><line class="axis" x1="{LEFT}" x2="{r}" y1="{b}" y2="{b}"/>"#,
        trend.unit,
        b = HEIGHT - BOTTOM,
        r = WIDTH - RIGHT,
    );
}

/// Runs of buckets with no missing bucket between them; a gap starts a new run.
fn segments<'p>(trend: &Trend<'p>) -> Vec<&'p [SeriesPoint]> {
    let limit = bucket_ms(trend.bucket) * 3 / 2;
    let points = trend.points;
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        if i == points.len() || points[i].start_ms - points[i - 1].start_ms > limit {
            out.push(&points[start..i]);
            start = i;
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn draw_segment(out: &mut String, style: Style, run: &[SeriesPoint], plot: &Plot, width: f64) {
    let centre = |p: &SeriesPoint| plot.x(p.start_ms as f64 + width / 2.0);
    if style == Style::Band && run.len() > 1 {
        out.push_str(r#"<path class="band" d="M"#);
        for p in run {
            let _ = write!(out, "{:.1},{:.1} ", centre(p), plot.y(p.max));
        }
        for p in run.iter().rev() {
            let _ = write!(out, "{:.1},{:.1} ", centre(p), plot.y(p.min));
        }
        out.push_str(r#"Z"/>"#);
    }
    if run.len() == 1 || style == Style::Line {
        for p in run {
            let _ = write!(
                out,
                r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="3"/>"#,
                centre(p),
                plot.y(mean(p))
            );
        }
    }
    if run.len() > 1 {
        out.push_str(r#"<path class="mean" d="M"#);
        for p in run {
            let _ = write!(out, "{:.1},{:.1} ", centre(p), plot.y(mean(p)));
        }
        out.push_str(r#""/>"#);
    }
}

fn draw_bars(out: &mut String, trend: &Trend<'_>, plot: &Plot) {
    let width = bucket_ms(trend.bucket) as f64;
    let base = plot.y(plot.lo);
    for p in trend.points.iter().filter(|p| p.count > 0) {
        let (x0, x1) = (plot.x(p.start_ms as f64), plot.x(p.start_ms as f64 + width));
        let y = plot.y(p.sum);
        let _ = write!(
            out,
            r#"<rect class="bar" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}"/>"#,
            x0 + 0.5,
            ((x1 - x0) - 1.0).max(0.5),
            (base - y).max(0.0),
        );
    }
}
