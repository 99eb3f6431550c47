//! The inspection page: static HTML with inline CSS and SVG (no scripts, nothing fetched), so
//! that it opens anywhere, offline, and stays as it was written.

use std::fmt::Write;

use super::{Extra, Inspection, SATURATED};

/// Colours of the gates in the saturation plots, in the order they appear.
const GATE_COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];
/// Colours of the layers' lines in the gradient-flow plot.
const LINE_COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A token as shown: visible whitespace, escaped.
fn shown(token: &str) -> String {
    match token {
        "\n" => "↵".into(),
        " " => "\u{a0}".into(),
        "\t" => "→".into(),
        t => escape(t),
    }
}

/// Red for positive, blue for negative activations, as opaque as `|v|` (clamped to 1).
fn colour(v: f64) -> String {
    let a = v.abs().min(1.0);
    if v >= 0.0 {
        format!("rgba(214,39,40,{a:.3})")
    } else {
        format!("rgba(31,119,180,{a:.3})")
    }
}

/// The whole page.
pub(super) fn page(ins: &Inspection) -> String {
    let mut p = String::new();
    let _ = write!(
        p,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em; max-width: 70em; color: #222; }}\n\
         .tokens {{ font-family: monospace; line-height: 1.9; word-break: break-all; }}\n\
         .tokens span {{ padding: 0.1em 0; }}\n\
         .unit {{ margin: 1em 0; }} .why {{ color: #666; }}\n\
         .plots {{ display: flex; flex-wrap: wrap; gap: 1.5em; }}\n\
         figure {{ margin: 0; }} figcaption {{ text-align: center; }}\n\
         </style>\n</head>\n<body>\n<h1>{title}</h1>\n",
        title = escape(&ins.title)
    );
    units(&mut p, ins);
    extras(&mut p, ins);
    saturation(&mut p, ins);
    flow(&mut p, ins);
    p.push_str("</body>\n</html>\n");
    p
}

fn units(p: &mut String, ins: &Inspection) {
    let _ = write!(
        p,
        "<section id=\"units\">\n<h2>Units over the input</h2>\n<p>Each step of the input \
         coloured by one unit's hidden state after it: red positive, blue negative, stronger \
         the larger it is ({} steps).</p>\n",
        ins.tokens.len()
    );
    for unit in &ins.units {
        let _ = write!(
            p,
            "<div class=\"unit\"><b>{}</b> <span class=\"why\">{}</span>\n<div class=\"tokens\">",
            escape(&unit.label),
            escape(&unit.why)
        );
        for (token, &v) in ins.tokens.iter().zip(&unit.values) {
            let _ = write!(
                p,
                "<span title=\"{v:.3}\" style=\"background:{}\">{}</span>",
                colour(v),
                shown(token)
            );
            if token == "\n" {
                p.push_str("<br>");
            }
        }
        p.push_str("</div></div>\n");
    }
    p.push_str("</section>\n");
}

fn extras(p: &mut String, ins: &Inspection) {
    for extra in &ins.extras {
        match extra {
            Extra::TokenWeights { title, weights } => {
                let top = weights.iter().copied().fold(0.0f64, f64::max).max(1e-12);
                let _ = write!(
                    p,
                    "<section class=\"token-weights\">\n<h2>{}</h2>\n<div class=\"tokens\">",
                    escape(title)
                );
                for (token, &w) in ins.tokens.iter().zip(weights) {
                    let _ = write!(
                        p,
                        "<span title=\"{w:.3}\" style=\"background:rgba(44,160,44,{:.3})\">{}</span>",
                        (w / top).clamp(0.0, 1.0),
                        shown(token)
                    );
                }
                p.push_str("</div>\n</section>\n");
            }
            Extra::Matrix {
                title,
                rows,
                columns,
                values,
            } => {
                let _ = write!(
                    p,
                    "<section class=\"matrix\">\n<h2>{}</h2>\n<table style=\"border-collapse: \
                     collapse; font-family: monospace\">\n<tr><td></td>",
                    escape(title)
                );
                for c in columns {
                    let _ = write!(
                        p,
                        "<th style=\"writing-mode: vertical-rl; font-weight: normal\">{}</th>",
                        shown(c)
                    );
                }
                p.push_str("</tr>\n");
                for (r, row) in rows.iter().zip(values) {
                    let _ = write!(p, "<tr><th style=\"text-align: right\">{}</th>", shown(r));
                    for &v in row {
                        let _ = write!(
                            p,
                            "<td title=\"{v:.3}\" style=\"width: 1.4em; height: 1.4em; \
                             background: rgba(0,0,0,{:.3})\"></td>",
                            v.clamp(0.0, 1.0)
                        );
                    }
                    p.push_str("</tr>\n");
                }
                p.push_str("</table>\n</section>\n");
            }
        }
    }
}

fn saturation(p: &mut String, ins: &Inspection) {
    let _ = write!(
        p,
        "<section id=\"saturation\">\n<h2>Gate saturation</h2>\n<p>One point per unit and \
         gate: the fraction of the steps its gate spends left-saturated (below {SATURATED}, \
         horizontal) and right-saturated (above {}, vertical). Gates near the left edge rarely \
         shut, gates near the top are almost always open.</p>\n<div class=\"plots\">\n",
        1.0 - SATURATED
    );
    let (size, pad) = (220.0, 30.0);
    for (label, gates) in &ins.saturation {
        if gates.is_empty() {
            let _ = writeln!(
                p,
                "<figure><p>{}: no gates in [0, 1] (an Elman RNN has none)</p></figure>",
                escape(label)
            );
            continue;
        }
        let full = size + 2.0 * pad;
        let _ = write!(
            p,
            "<figure><svg class=\"saturation\" width=\"{full}\" height=\"{full}\" \
             viewBox=\"0 0 {full} {full}\" role=\"img\" aria-label=\"{l}\">\n\
             <rect x=\"{pad}\" y=\"{pad}\" width=\"{size}\" height=\"{size}\" fill=\"none\" \
             stroke=\"#999\"/>\n\
             <line x1=\"{pad}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{pad}\" stroke=\"#ddd\"/>\n\
             <text x=\"{cx}\" y=\"{by}\" font-size=\"11\" text-anchor=\"middle\">left-saturated</text>\n\
             <text x=\"10\" y=\"{cx}\" font-size=\"11\" text-anchor=\"middle\" \
             transform=\"rotate(-90 10 {cx})\">right-saturated</text>\n",
            l = escape(label),
            y0 = pad + size,
            x1 = pad + size,
            cx = pad + size / 2.0,
            by = full - 8.0
        );
        for (k, gate) in gates.iter().enumerate() {
            let colour = GATE_COLOURS[k % GATE_COLOURS.len()];
            for (&left, &right) in gate.left.iter().zip(&gate.right) {
                let _ = write!(
                    p,
                    "<circle class=\"gate-{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\" \
                     fill-opacity=\"0.6\"/>",
                    gate.gate,
                    pad + left * size,
                    pad + (1.0 - right) * size
                );
            }
            let _ = writeln!(
                p,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
                pad + size - 40.0,
                pad + 14.0 + 13.0 * k as f64,
                gate.gate
            );
        }
        let _ = writeln!(
            p,
            "</svg><figcaption>{}</figcaption></figure>",
            escape(label)
        );
    }
    p.push_str("</div>\n</section>\n");
}

fn flow(p: &mut String, ins: &Inspection) {
    let _ = write!(
        p,
        "<section id=\"flow\">\n<h2>Gradient flow</h2>\n<p>‖∂L/∂h<sub>t</sub>‖ of every layer \
         against the distance of step t from the loss ({}), on a log scale: how far back the \
         loss still reaches.</p>\n",
        escape(&ins.loss)
    );
    let (w, h, pad) = (640.0, 300.0, 50.0);
    let longest = ins.flow.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let logs: Vec<f64> = ins
        .flow
        .iter()
        .flat_map(|(_, v)| v.iter().filter(|x| **x > 0.0).map(|x| x.log10()))
        .collect();
    if longest < 2 || logs.is_empty() {
        p.push_str("<p>No gradient reaches the steps (a constant loss?).</p>\n</section>\n");
        return;
    }
    let lo = logs.iter().copied().fold(f64::MAX, f64::min).floor();
    let hi = logs
        .iter()
        .copied()
        .fold(f64::MIN, f64::max)
        .ceil()
        .max(lo + 1.0);
    let x = |d: usize| pad + w * d as f64 / (longest - 1) as f64;
    let y = |v: f64| pad + h * (hi - v.log10()) / (hi - lo);
    let _ = write!(
        p,
        "<svg id=\"flow-plot\" width=\"{fw}\" height=\"{fh}\" viewBox=\"0 0 {fw} {fh}\" \
         role=\"img\" aria-label=\"gradient flow\">\n\
         <rect x=\"{pad}\" y=\"{pad}\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"#999\"/>\n\
         <text x=\"{cx}\" y=\"{by}\" font-size=\"12\" text-anchor=\"middle\">distance from the loss (steps)</text>\n",
        fw = w + 2.0 * pad,
        fh = h + 2.0 * pad,
        cx = pad + w / 2.0,
        by = h + 2.0 * pad - 8.0
    );
    let mut decade = lo;
    while decade <= hi {
        let yy = pad + h * (hi - decade) / (hi - lo);
        let _ = writeln!(
            p,
            "<line x1=\"{pad}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">1e{decade}</text>",
            pad + w,
            pad - 4.0,
            yy + 4.0
        );
        decade += 1.0;
    }
    for d in [0, longest / 2, longest - 1] {
        let _ = writeln!(
            p,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{d}</text>",
            x(d),
            pad + h + 14.0
        );
    }
    for (k, (label, values)) in ins.flow.iter().enumerate() {
        let colour = LINE_COLOURS[k % LINE_COLOURS.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0)
            .map(|(d, &v)| format!("{:.1},{:.1}", x(d), y(v)))
            .collect();
        let _ = writeln!(
            p,
            "<polyline class=\"layer-line\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" \
             stroke-width=\"1.5\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" \
             fill=\"{colour}\">{}</text>",
            points.join(" "),
            pad + w - 120.0,
            pad + 16.0 + 15.0 * k as f64,
            escape(label)
        );
    }
    p.push_str("</svg>\n</section>\n");
}
