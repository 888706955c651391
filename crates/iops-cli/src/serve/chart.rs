//! Server-rendered SVG line charts: one metric's values as a polyline, its expected band as
//! a shaded polygon, insights as markers. No script, no fonts to fetch: works offline.

use std::fmt::Write;

use iops_core::Severity;

/// One insight drawn on a chart.
#[derive(Debug, Clone)]
pub struct Marker {
    /// Epoch seconds.
    pub t: f64,
    /// The value the insight was raised on.
    pub v: f64,
    /// Its colour.
    pub severity: Severity,
    /// Tooltip.
    pub title: String,
}

/// What to draw.
#[derive(Debug)]
pub struct Chart<'a> {
    /// Heading inside the chart.
    pub title: &'a str,
    /// Pixel size.
    pub width: f64,
    /// Pixel size.
    pub height: f64,
    /// Time axis, epoch seconds.
    pub t0: f64,
    /// Time axis, epoch seconds.
    pub t1: f64,
    /// (epoch seconds, value), in time order.
    pub points: &'a [(f64, f64)],
    /// (epoch seconds, low, high), in time order.
    pub band: &'a [(f64, f64, f64)],
    /// Insights.
    pub markers: &'a [Marker],
    /// Axis labels: start and end.
    pub labels: (&'a str, &'a str),
}

const PAD_LEFT: f64 = 48.0;
const PAD_RIGHT: f64 = 8.0;
const PAD_TOP: f64 = 20.0;
const PAD_BOTTOM: f64 = 18.0;

pub fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#d62728",
        Severity::Warning => "#ff7f0e",
        Severity::Info => "#1f77b4",
    }
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A short number for an axis: 1234.5 → "1235", 0.25 → "0.25".
fn short(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// At most two points (the lowest and the highest, in time order) per pixel column, so a
/// long series stays small without hiding a spike.
fn thin(points: &[(f64, f64)], t0: f64, t1: f64, columns: usize) -> Vec<(f64, f64)> {
    if points.len() <= 2 * columns || t1 <= t0 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(2 * columns + 2);
    let column = |t: f64| (((t - t0) / (t1 - t0)) * columns as f64) as i64;
    let mut i = 0;
    while i < points.len() {
        let c = column(points[i].0);
        let mut lo = points[i];
        let mut hi = points[i];
        let mut j = i + 1;
        while j < points.len() && column(points[j].0) == c {
            if points[j].1 < lo.1 {
                lo = points[j];
            }
            if points[j].1 > hi.1 {
                hi = points[j];
            }
            j += 1;
        }
        if lo.0 <= hi.0 {
            out.push(lo);
            if hi != lo {
                out.push(hi);
            }
        } else {
            out.push(hi);
            out.push(lo);
        }
        i = j;
    }
    out
}

/// The chart as an `<svg>` element.
pub fn render(c: &Chart<'_>) -> String {
    let plot_w = (c.width - PAD_LEFT - PAD_RIGHT).max(1.0);
    let plot_h = (c.height - PAD_TOP - PAD_BOTTOM).max(1.0);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, v) in c.points {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    for &(_, l, h) in c.band {
        lo = lo.min(l);
        hi = hi.max(h);
    }
    for m in c.markers {
        lo = lo.min(m.v);
        hi = hi.max(m.v);
    }
    if !(lo.is_finite() && hi.is_finite()) {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        hi = lo + 1.0;
    }
    let span = hi - lo;
    // Pad the range, but never below zero for data that is never negative.
    let floor = if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY };
    let (lo, hi) = ((lo - 0.05 * span).max(floor), hi + 0.05 * span);
    let dt = if c.t1 > c.t0 { c.t1 - c.t0 } else { 1.0 };
    let x = |t: f64| PAD_LEFT + (t - c.t0) / dt * plot_w;
    let y = |v: f64| PAD_TOP + (hi - v) / (hi - lo) * plot_h;

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{title}">"#,
        w = c.width,
        h = c.height,
        title = esc(c.title)
    );
    let _ = write!(
        s,
        r##"<rect x="{PAD_LEFT}" y="{PAD_TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="#fafafa" stroke="#ddd"/>"##
    );
    let _ = write!(
        s,
        r##"<text x="{PAD_LEFT}" y="14" font-size="12" font-weight="bold" fill="#333">{}</text>"##,
        esc(c.title)
    );
    // y axis: high and low
    let _ = write!(
        s,
        r##"<text x="{xa:.1}" y="{y1:.1}" font-size="10" text-anchor="end" fill="#666">{}</text><text x="{xa:.1}" y="{y2:.1}" font-size="10" text-anchor="end" fill="#666">{}</text>"##,
        short(hi),
        short(lo),
        xa = PAD_LEFT - 4.0,
        y1 = PAD_TOP + 9.0,
        y2 = PAD_TOP + plot_h,
    );
    // x axis: start and end
    let _ = write!(
        s,
        r##"<text x="{PAD_LEFT}" y="{yb:.1}" font-size="10" fill="#666">{}</text><text x="{xe:.1}" y="{yb:.1}" font-size="10" text-anchor="end" fill="#666">{}</text>"##,
        esc(c.labels.0),
        esc(c.labels.1),
        yb = c.height - 4.0,
        xe = PAD_LEFT + plot_w,
    );
    if c.band.len() >= 2 {
        s.push_str(
            r##"<polygon class="band" fill="#2ca02c" fill-opacity="0.15" stroke="none" points=""##,
        );
        for &(t, _, h) in c.band {
            let _ = write!(s, "{:.1},{:.1} ", x(t), y(h));
        }
        for &(t, l, _) in c.band.iter().rev() {
            let _ = write!(s, "{:.1},{:.1} ", x(t), y(l));
        }
        s.push_str(r#""/>"#);
    }
    if !c.points.is_empty() {
        s.push_str(
            r##"<polyline class="values" fill="none" stroke="#333" stroke-width="1" points=""##,
        );
        for (t, v) in thin(c.points, c.t0, c.t1, plot_w as usize) {
            let _ = write!(s, "{:.1},{:.1} ", x(t), y(v));
        }
        s.push_str(r#""/>"#);
    }
    for m in c.markers {
        let _ = write!(
            s,
            r#"<circle class="marker {sev}" cx="{cx:.1}" cy="{cy:.1}" r="4" fill="{col}" fill-opacity="0.85"><title>{title}</title></circle>"#,
            sev = m.severity.as_str(),
            cx = x(m.t),
            cy = y(m.v),
            col = severity_colour(m.severity),
            title = esc(&m.title)
        );
    }
    s.push_str("</svg>");
    s
}

/// A small chart without axes, for the host list.
pub fn sparkline(points: &[(f64, f64)], t0: f64, t1: f64, width: f64, height: f64) -> String {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, v) in points {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !(lo.is_finite() && hi.is_finite()) || hi - lo < 1e-9 {
        (lo, hi) = (lo.min(0.0), lo.max(0.0) + 1.0);
    }
    let dt = if t1 > t0 { t1 - t0 } else { 1.0 };
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><polyline fill="none" stroke="#1f77b4" stroke-width="1" points=""##
    );
    for (t, v) in thin(points, t0, t1, width as usize) {
        let _ = write!(
            s,
            "{:.1},{:.1} ",
            (t - t0) / dt * width,
            1.0 + (hi - v) / (hi - lo) * (height - 2.0)
        );
    }
    s.push_str(r#""/></svg>"#);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_extremes_of_each_column() {
        let points: Vec<(f64, f64)> = (0..1000)
            .map(|i| (i as f64, if i == 500 { 99.0 } else { 1.0 }))
            .collect();
        let thinned = thin(&points, 0.0, 1000.0, 10);
        assert!(thinned.len() <= 20);
        assert!(thinned.contains(&(500.0, 99.0)));
        assert!(thinned.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn a_chart_has_a_polyline_a_band_and_escaped_markers() {
        let points = [(0.0, 1.0), (60.0, 2.0), (120.0, 9.0)];
        let band = [(0.0, 0.5, 1.5), (60.0, 1.5, 2.5), (120.0, 2.0, 3.0)];
        let markers = [Marker {
            t: 120.0,
            v: 9.0,
            severity: Severity::Critical,
            title: "<spike>".into(),
        }];
        let svg = render(&Chart {
            title: "cpuUsage",
            width: 600.0,
            height: 200.0,
            t0: 0.0,
            t1: 120.0,
            points: &points,
            band: &band,
            markers: &markers,
            labels: ("a", "b"),
        });
        assert!(svg.contains("<polyline class=\"values\""));
        assert!(svg.contains("<polygon class=\"band\""));
        assert!(svg.contains("marker critical"));
        assert!(svg.contains("&lt;spike&gt;") && !svg.contains("<spike>"));
    }
}
