//! Line charts as hand-written SVG: one panel per figure, calls on the x axis, one line per
//! system. No plotting dependency: a chart is a few hundred lines of text.

use std::fmt::Write;

/// One system's line: (calls, value) points.
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend text.
    pub name: String,
    /// Points, in any order; drawn sorted by x.
    pub points: Vec<(f64, f64)>,
}

/// A panel: its title, its y-axis label and its lines.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Above the panel.
    pub title: String,
    /// Beside the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// A logarithmic y axis (decades), for figures that span orders of magnitude; values
    /// at or below 0 are drawn at the axis' bottom.
    pub log_y: bool,
}

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];
const W: f64 = 460.0;
const H: f64 = 300.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 40.0;
const PW: f64 = 370.0;
const PH: f64 = 200.0;

/// A round step giving about five ticks up to `max`.
fn step(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Draws `panels` side by side as one SVG document.
pub fn svg(panels: &[Panel]) -> String {
    let mut out = String::new();
    let width = W * panels.len().max(1) as f64;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        H + 20.0 * panels.first().map_or(0, |p| p.series.len()) as f64 / 2.0 + 20.0
    );
    for (k, panel) in panels.iter().enumerate() {
        let ox = k as f64 * W;
        let xmax = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold(0.0, f64::max);
        let ymax = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0, f64::max);
        let xs = step(xmax);
        let xtop = (xmax / xs).ceil().max(1.0) * xs;
        let px = |x: f64| ox + LEFT + PW * x / xtop;
        // Linear: round ticks from 0. Logarithmic: decades from the smallest positive value.
        let (y_lo, y_hi, ticks): (f64, f64, Vec<f64>) = if panel.log_y {
            let ymin = panel
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
            let lo = if ymin.is_finite() {
                ymin.log10().floor()
            } else {
                0.0
            };
            let hi = if ymax > 0.0 {
                ymax.log10().ceil().max(lo + 1.0)
            } else {
                lo + 1.0
            };
            let ticks = (lo as i32..=hi as i32).map(|e| 10f64.powi(e)).collect();
            (lo, hi, ticks)
        } else {
            let ys = step(ymax);
            let top = (ymax / ys).ceil().max(1.0) * ys;
            let n = (top / ys).round() as usize;
            (0.0, top, (0..=n).map(|i| i as f64 * ys).collect())
        };
        let log = panel.log_y;
        let py = move |y: f64| {
            let v = if log {
                if y > 0.0 { y.log10().max(y_lo) } else { y_lo }
            } else {
                y
            };
            TOP + PH - PH * (v - y_lo) / (y_hi - y_lo)
        };
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"20\" font-size=\"13\" text-anchor=\"middle\">{}</text>",
            ox + LEFT + PW / 2.0,
            escape(&panel.title)
        );
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{TOP}\" width=\"{PW}\" height=\"{PH}\" fill=\"none\" stroke=\"#888\"/>",
            ox + LEFT
        );
        let mut x = 0.0;
        while x <= xtop + xs / 2.0 {
            let _ = writeln!(
                out,
                "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#eee\"/>\
                 <text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>",
                px(x),
                TOP,
                TOP + PH,
                TOP + PH + 14.0,
                x
            );
            x += xs;
        }
        for y in ticks {
            let _ = writeln!(
                out,
                "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#eee\"/>\
                 <text x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>",
                ox + LEFT,
                py(y),
                ox + LEFT + PW,
                ox + LEFT - 4.0,
                py(y) + 4.0,
                (y * 1000.0).round() / 1000.0
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">calls</text>\
             <text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            ox + LEFT + PW / 2.0,
            TOP + PH + 30.0,
            ox + 14.0,
            TOP + PH / 2.0,
            escape(&panel.y_label)
        );
        for (i, s) in panel.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let mut pts = s.points.clone();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let line: Vec<String> = pts
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                line.join(" ")
            );
            for &(x, y) in &pts {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                    px(x),
                    py(y)
                );
            }
            let ly = TOP + PH + 50.0 + 16.0 * (i / 2) as f64;
            let lx = ox + LEFT + (i % 2) as f64 * PW / 2.0;
            let _ = writeln!(
                out,
                "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text>",
                lx + 18.0,
                lx + 22.0,
                ly + 4.0,
                escape(&s.name)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(step(1000.0), 200.0);
        assert_eq!(step(0.23), 0.05);
        assert_eq!(step(12.0), 2.5);
        assert_eq!(step(0.0), 1.0);
    }

    #[test]
    fn a_chart_has_one_line_per_series_and_escapes_names() {
        let panel = Panel {
            title: "CPU".into(),
            y_label: "% of a core per call".into(),
            log_y: false,
            series: vec![
                Series {
                    name: "a<b".into(),
                    points: vec![(200.0, 0.2), (100.0, 0.1)],
                },
                Series {
                    name: "c".into(),
                    points: vec![(100.0, 0.3)],
                },
            ],
        };
        let log = Panel {
            log_y: true,
            ..panel.clone()
        };
        let s = svg(&[panel, log]);
        assert_eq!(s.matches("<polyline").count(), 4);
        // Decades from 0.1 to 1 on the logarithmic panel.
        assert!(s.contains(">0.1</text>") && s.contains(">1</text>"));
        assert!(s.contains("a&lt;b") && s.starts_with("<svg") && s.ends_with("</svg>\n"));
    }
}
