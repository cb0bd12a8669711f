//! A grouped bar chart as hand-written SVG text (no dependency): CPU µs per
//! request of each proxy and of Redis directly, one group per case.
//!
//! Invariants: pure text generation (the caller writes the file); all
//! label text is XML-escaped; a value that was not measured draws no bar
//! (never a zero-height one that reads as "free"); the y axis starts at 0
//! and ends at a round number at or above the largest value.

use std::fmt::Write as _;

use crate::cases::Case;
use crate::report::Row;
use crate::targets::Target;

/// Series of the CPU chart, in bar order within a group.
pub const SERIES: [&str; 5] = [
    "nutcracker",
    "slotway pool",
    "slotway cluster",
    "redis direct (standalone)",
    "redis direct (cluster)",
];
const COLORS: [&str; 5] = ["#9e9e9e", "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728"];

const BAR: f64 = 14.0;
const GROUP_GAP: f64 = 22.0;
const LEFT: f64 = 60.0;
const TOP: f64 = 70.0;
const PLOT_H: f64 = 300.0;
const BOTTOM: f64 = 120.0;
const MIN_WIDTH: f64 = 660.0;

/// `&`, `<`, `>`, `"` escaped.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The smallest 1, 2 or 5 × 10^k at or above `v` (1 for nothing positive).
pub fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10_f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * mag >= v * (1.0 - 1e-12) {
            return m * mag;
        }
    }
    10.0 * mag
}

/// One group per case: proxy CPU µs/request of each proxy and the
/// redis-servers' of each direct run, in `SERIES` order.
pub fn cpu_groups(rows: &[Row]) -> Vec<(String, Vec<Option<f64>>)> {
    let mut cases: Vec<Case> = Vec::new();
    for r in rows {
        if !cases.contains(&r.case) {
            cases.push(r.case);
        }
    }
    cases
        .into_iter()
        .map(|case| {
            let proxy = |t: Target| crate::report::median(rows, case, t, Row::proxy_us);
            let redis = |t: Target| crate::report::median(rows, case, t, |r| Some(r.redis_us()));
            let values = vec![
                proxy(Target::Nutcracker),
                proxy(Target::SlotwayPool),
                proxy(Target::SlotwayCluster),
                redis(Target::StandaloneDirect),
                redis(Target::ClusterDirect),
            ];
            (case.label(), values)
        })
        .collect()
}

/// The chart: `groups` of (label, one value per series).
pub fn grouped_bars(
    title: &str,
    y_label: &str,
    series: &[&str],
    groups: &[(String, Vec<Option<f64>>)],
) -> String {
    let n = series.len().max(1) as f64;
    let group_w = n * BAR + GROUP_GAP;
    // Wide enough for the title and a 3-column legend however few groups.
    let width = (LEFT + group_w * groups.len().max(1) as f64 + 20.0).max(MIN_WIDTH);
    let height = TOP + PLOT_H + BOTTOM;
    let max = nice_max(
        groups
            .iter()
            .flat_map(|(_, v)| v.iter().flatten())
            .fold(0.0, |a: f64, &b| a.max(b)),
    );
    let y = |v: f64| TOP + PLOT_H - v / max * PLOT_H;
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="18" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    // Legend.
    for (i, name) in series.iter().enumerate() {
        let x = LEFT + (i % 3) as f64 * 190.0;
        let ly = 34.0 + (i / 3) as f64 * 16.0;
        let color = COLORS.get(i % COLORS.len()).copied().unwrap_or("#000");
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{:.0}" width="10" height="10" fill="{color}"/><text x="{:.0}" y="{ly:.0}">{}</text>"#,
            ly - 9.0,
            x + 14.0,
            escape(name)
        );
    }
    // Axis, grid and tick labels.
    for i in 0..=5 {
        let v = max * f64::from(i) / 5.0;
        let gy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.0}" y2="{gy:.1}" stroke="#ddd"/><text x="{:.0}" y="{:.1}" text-anchor="end">{}</text>"##,
            width - 20.0,
            LEFT - 4.0,
            gy + 4.0,
            trim_num(v)
        );
    }
    let _ = writeln!(
        s,
        r#"<text transform="translate(14 {:.0}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + PLOT_H / 2.0,
        escape(y_label)
    );
    for (g, (label, values)) in groups.iter().enumerate() {
        let gx = LEFT + GROUP_GAP / 2.0 + g as f64 * group_w;
        for (i, v) in values.iter().enumerate() {
            let Some(v) = v.filter(|v| v.is_finite() && *v >= 0.0) else {
                continue;
            };
            let color = COLORS.get(i % COLORS.len()).copied().unwrap_or("#000");
            let top = y(v);
            let _ = writeln!(
                s,
                r#"<rect class="bar" x="{:.1}" y="{top:.1}" width="{BAR}" height="{:.1}" fill="{color}"><title>{}: {}: {v:.2}</title></rect>"#,
                gx + i as f64 * BAR,
                TOP + PLOT_H - top,
                escape(label),
                escape(series.get(i).copied().unwrap_or("?"))
            );
        }
        let cx = gx + n * BAR / 2.0;
        let _ = writeln!(
            s,
            r#"<text transform="translate({cx:.1} {:.0}) rotate(-40)" text-anchor="end">{}</text>"#,
            TOP + PLOT_H + 14.0,
            escape(label)
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{:.0}" x2="{:.0}" y2="{:.0}" stroke="#000"/>"##,
        TOP + PLOT_H,
        width - 20.0,
        TOP + PLOT_H
    );
    s.push_str("</svg>\n");
    s
}

/// `2`, `0.5`, `12.5`: tick labels without trailing zeros.
fn trim_num(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_the_axis() {
        assert_eq!(nice_max(7.3), 10.0);
        assert_eq!(nice_max(1.2), 2.0);
        assert_eq!(nice_max(0.04), 0.05);
        assert_eq!(nice_max(20.0), 20.0);
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(trim_num(2.0), "2");
        assert_eq!(trim_num(12.5), "12.5");
    }

    #[test]
    fn draws_one_bar_per_measured_value() {
        let groups = vec![
            ("SET <P1>".to_string(), vec![Some(10.0), Some(5.0), None]),
            ("GET".to_string(), vec![Some(8.0), None, Some(3.0)]),
        ];
        let svg = grouped_bars("CPU & co", "µs", &["a", "b", "c"], &groups);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 4);
        assert!(svg.contains("CPU &amp; co"));
        assert!(svg.contains("SET &lt;P1&gt;"));
        assert!(!svg.contains("SET <P1>"));
        // The tallest bar (10 of an axis to 10) fills the plot height.
        assert!(svg.contains(&format!("height=\"{PLOT_H:.1}\"")));
        // Tags balance.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
        assert_eq!(svg.matches("<title>").count(), 4);
    }

    #[test]
    fn groups_rows_by_case() {
        use crate::cases::{SMALL, Test};
        use crate::cpu::Usage;
        let case = Case {
            test: Test::Set,
            pipeline: 1,
            data_size: SMALL,
        };
        let row = |target, proxy: Option<f64>| Row {
            case,
            target,
            requests: 1_000_000,
            rps: 1.0,
            usage: Usage {
                proxy,
                proxy_sys: None,
                proxy_switches: None,
                redis: 2.0,
                bench: 0.0,
                other: 0.0,
            },
        };
        let g = cpu_groups(&[
            row(Target::StandaloneDirect, None),
            row(Target::SlotwayPool, Some(3.0)),
        ]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].0, "SET -P 1 -d 64");
        assert_eq!(g[0].1, vec![None, Some(3.0), None, Some(2.0), None]);
    }
}
