//! The report as one self-contained HTML page: the figures of [`Remediation`] as tiles and tables,
//! and the trend over each window (30 and 90 days by default) as SVG charts drawn by an inline script
//! from inline data. No request at view time (no CDN, no font, no image), so it opens from S3, a mail
//! attachment or a disk. Pure: the caller writes it.
//!
//! Every text is HTML-escaped here; the data the script reads is JSON with `<`, `>` and `&` escaped,
//! so no value can close the script element. The page marks itself `data-rendered="1"` once the
//! charts are drawn and counts script errors in `data-errors` (what the browser test reads).

use std::fmt::Write;

use super::text::escape_markup;
use crate::domain::escape::needs_escape;
use crate::domain::remediation::{Durations, Group, Remediation};

/// Rows shown per table (the JSON has them all).
const ROWS: usize = 100;

/// `s` for HTML text or a quoted attribute: markup characters as entities, controls as visible escapes.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Days with one decimal, or an en dash when there is nothing to measure.
fn days(d: Option<f64>) -> String {
    d.map_or_else(|| "–".to_string(), |d| format!("{d:.1}"))
}

/// The page.
pub fn render(r: &Remediation) -> String {
    let data = escape_markup(&serde_json::to_string(&r.trend).unwrap_or_else(|_| "[]".into()));
    let mut body = String::new();
    tiles(&mut body, r);
    charts(&mut body, r);
    group_table(&mut body, "By repository", "Repository", &r.repositories);
    group_table(&mut body, "By rule", "Rule", &r.rules);
    vulnerabilities(&mut body, r);
    open_tickets(&mut body, r);
    blocked_images(&mut body, r);
    format!(
        "<!doctype html>\n<html lang=\"en\" data-rendered=\"0\" data-errors=\"0\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>ecr-gatekeeper report {generated}</title><style>{STYLE}</style></head><body>\
         <header><h1>ecr-gatekeeper report</h1><p>Generated {generated}; history read from {read}, its \
         oldest change {from}. A ticket is a (repository, vulnerability) pair; it is fixed when a newer \
         image of the repository deploys. Exceptions, releases, deletions and reassessments of the \
         same image are counted apart, never as fixes.</p></header>\
         {body}<script type=\"application/json\" id=\"trend\">{data}</script><script>{SCRIPT}</script></body></html>\n",
        generated = html(&r.generated_at),
        read = html(&r.read_from),
        from = html(r.history_from.as_deref().unwrap_or("(no change recorded)")),
    )
}

/// The headline figures.
fn tiles(out: &mut String, r: &Remediation) {
    let now = &r.now;
    let mut tiles: Vec<(String, String, &str)> = vec![
        ("Blocked now".into(), now.blocked.to_string(), "blocked"),
        ("Warned now".into(), now.warned.to_string(), "warned"),
        ("Released".into(), now.released.to_string(), "released"),
        ("Open tickets".into(), now.open_tickets.to_string(), "open"),
        (
            "Open past SLA".into(),
            now.open_past_sla.to_string(),
            "past-sla",
        ),
    ];
    for w in &r.windows {
        tiles.push((
            format!("MTTR, {} days ({} fixed)", w.days, w.fixed.count),
            days(w.fixed.mean_days),
            "mttr",
        ));
    }
    out.push_str("<section class=\"tiles\">");
    for (label, value, id) in tiles {
        let _ = write!(
            out,
            "<div class=\"tile {id}\" data-figure=\"{id}\"><span class=\"value\">{}</span><span class=\"label\">{}</span></div>",
            html(&value),
            html(&label)
        );
    }
    out.push_str("</section>");
    window_table(out, r);
}

/// Each window's resolutions, side by side.
fn window_table(out: &mut String, r: &Remediation) {
    out.push_str("<section><h2>Resolutions</h2><table><thead><tr><th>Window</th><th>Opened</th><th>Fixed</th><th>Mean days</th><th>Median</th><th>90th pct.</th><th>Fixed past SLA</th><th>Excepted</th><th>Released</th><th>Deleted</th><th>Reassessed</th><th>Tags fixed (mean days)</th><th>Blocks ended (mean days)</th></tr></thead><tbody>");
    for w in &r.windows {
        let _ = write!(
            out,
            "<tr data-resolutions=\"{}\"><td>{} days</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            w.days,
            w.days,
            w.opened,
            w.fixed.count,
            days(w.fixed.mean_days),
            days(w.fixed.median_days),
            days(w.fixed.p90_days),
            w.fixed_late,
            w.excepted,
            w.released,
            w.deleted,
            w.reassessed,
            count_days(&w.tags_fixed),
            count_days(&w.blocks_ended),
        );
    }
    out.push_str("</tbody></table></section>");
}

fn count_days(d: &Durations) -> String {
    format!("{} ({})", d.count, days(d.mean_days))
}

fn group_table(out: &mut String, title: &str, what: &str, groups: &[Group]) {
    let _ = write!(
        out,
        "<section><h2>{}</h2><table><thead><tr><th>{}</th><th>Blocked now</th><th>Warned now</th><th>Fixed</th><th>MTTR days</th><th>Open</th><th>Open past SLA</th><th>Fixed past SLA</th><th>Excepted</th><th>Released</th><th>Reassessed</th></tr></thead><tbody>",
        html(title),
        html(what)
    );
    for g in groups.iter().take(ROWS) {
        let late = if g.open_past_sla > 0 {
            " class=\"late\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr{late}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&g.name),
            g.blocked_now,
            g.warned_now,
            g.fixed.count,
            days(g.fixed.mean_days),
            g.open,
            g.open_past_sla,
            g.fixed_late,
            g.excepted,
            g.released,
            g.reassessed,
        );
    }
    empty_row(out, groups.is_empty(), 11);
    out.push_str("</tbody></table></section>");
}

fn empty_row(out: &mut String, empty: bool, columns: usize) {
    if empty {
        let _ = write!(
            out,
            "<tr><td colspan=\"{columns}\" class=\"none\">none</td></tr>"
        );
    }
}

fn vulnerabilities(out: &mut String, r: &Remediation) {
    out.push_str("<section><h2>Vulnerabilities blocking the most images</h2><table><thead><tr><th>Vulnerability</th><th>Severity</th><th>Images</th><th>Repositories</th></tr></thead><tbody>");
    for v in &r.now.top_vulnerabilities {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"sev {}\">{}</td><td>{}</td><td>{}</td></tr>",
            html(&v.id),
            v.severity.as_str().to_ascii_lowercase(),
            v.severity.as_str(),
            v.images,
            v.repositories
        );
    }
    empty_row(out, r.now.top_vulnerabilities.is_empty(), 4);
    out.push_str("</tbody></table></section>");
}

fn open_tickets(out: &mut String, r: &Remediation) {
    let _ = write!(
        out,
        "<section><h2>Open tickets ({}, oldest first)</h2><table><thead><tr><th>Repository</th><th>Vulnerability</th><th>Severity</th><th>Rule</th><th>Opened</th><th>Days open</th><th>SLA days</th><th>Images</th></tr></thead><tbody>",
        r.open_tickets.len()
    );
    for t in r.open_tickets.iter().take(ROWS) {
        let late = if t.past_sla { " class=\"late\"" } else { "" };
        let _ = write!(
            out,
            "<tr{late}><td>{}</td><td>{}</td><td class=\"sev {}\">{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
            html(&t.scope),
            html(&t.vulnerability),
            t.severity.as_str().to_ascii_lowercase(),
            t.severity.as_str(),
            html(&t.rule),
            html(&if t.before_history {
                format!("before {}", t.opened)
            } else {
                t.opened.clone()
            }),
            t.age_days,
            t.sla_days,
            t.images
        );
    }
    empty_row(out, r.open_tickets.is_empty(), 8);
    out.push_str("</tbody></table></section>");
}

fn blocked_images(out: &mut String, r: &Remediation) {
    let _ = write!(
        out,
        "<section><h2>Blocked images ({}, longest blocked first)</h2><table><thead><tr><th>Repository</th><th>Digest</th><th>Tags</th><th>Blocked since</th><th>Days</th><th>Blocking</th></tr></thead><tbody>",
        r.now.blocked_images.len()
    );
    for b in r.now.blocked_images.iter().take(ROWS) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"digest\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&b.scope),
            html(&b.digest),
            html(&b.tags.join(", ")),
            html(b.since.as_deref().unwrap_or("before the history")),
            days(b.days),
            html(&b.vulnerabilities.join(", "))
        );
    }
    empty_row(out, r.now.blocked_images.is_empty(), 6);
    out.push_str("</tbody></table></section>");
}

const STYLE: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#1f2328;background:#fff}\
h1{font-size:22px;margin:8px 0}h2{font-size:16px;margin:24px 0 8px}header p{color:#57606a;margin:0}\
.tiles{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}.tile{border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;min-width:120px}\
.tile .value{display:block;font-size:26px;font-weight:600}.tile .label{color:#57606a;font-size:12px}\
.tile.blocked .value,.tile.past-sla .value{color:#cf222e}.tile.warned .value{color:#9a6700}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #d8dee4;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f6f8fa}td.none{color:#57606a;font-style:italic}tr.late td{background:#ffebe9}.digest{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}\
.sev.critical{color:#cf222e;font-weight:600}.sev.high{color:#bc4c00}.sev.medium{color:#9a6700}\
.charts svg{width:100%;height:auto;border:1px solid #d0d7de;border-radius:8px;margin-bottom:8px}.charts button{margin-right:6px}\
.charts button[aria-pressed=true]{font-weight:600}.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}";

/// The trend's section: a button per window (the longest drawn first), the legend, both charts.
fn charts(out: &mut String, r: &Remediation) {
    out.push_str("<section class=\"charts\"><h2>Trend</h2><div>");
    for w in &r.windows {
        let _ = write!(
            out,
            "<button type=\"button\" data-days=\"{0}\">{0} days</button>",
            w.days
        );
    }
    out.push_str(CHARTS);
}

const CHARTS: &str = "</div>\
<p class=\"legend\"><span><i style=\"background:#cf222e\"></i>blocked images</span><span><i style=\"background:#d4a72c\"></i>warned images</span><span><i style=\"background:#8250df\"></i>new blocks</span><span><i style=\"background:#1a7f37\"></i>tickets fixed</span></p>\
<svg id=\"levels\" viewBox=\"0 0 1000 260\" role=\"img\" aria-label=\"images blocked and warned per day\"></svg>\
<svg id=\"events\" viewBox=\"0 0 1000 200\" role=\"img\" aria-label=\"new blocks and tickets fixed per day\"></svg></section>";

/// Draws both charts for the window the location's hash names (`#30`, `#90`; the longest otherwise)
/// and on each button; every point carries its date and value as a tooltip.
const SCRIPT: &str = r##"(function(){
"use strict";
var root=document.documentElement;
window.addEventListener("error",function(){root.dataset.errors=String(Number(root.dataset.errors)+1);});
var all=JSON.parse(document.getElementById("trend").textContent);
var NS="http://www.w3.org/2000/svg";
function el(name,attrs,text){var e=document.createElementNS(NS,name);for(var k in attrs){e.setAttribute(k,attrs[k]);}if(text!==undefined){e.textContent=text;}return e;}
function axis(svg,days,max,h){
  svg.appendChild(el("line",{x1:50,y1:h-30,x2:990,y2:h-30,stroke:"#8c959f"}));
  svg.appendChild(el("text",{x:44,y:h-30,"text-anchor":"end","font-size":12},"0"));
  svg.appendChild(el("text",{x:44,y:20,"text-anchor":"end","font-size":12},String(max)));
  if(days.length){
    svg.appendChild(el("text",{x:50,y:h-10,"font-size":12},days[0].date));
    svg.appendChild(el("text",{x:990,y:h-10,"text-anchor":"end","font-size":12},days[days.length-1].date));
  }
}
function x(i,n){return n<2?520:50+i*940/(n-1);}
function levels(days){
  var svg=document.getElementById("levels"),h=260;svg.textContent="";
  var max=Math.max(1,Math.max.apply(null,days.map(function(d){return Math.max(d.blocked,d.warned);})));
  axis(svg,days,max,h);
  [["blocked","#cf222e"],["warned","#d4a72c"]].forEach(function(s){
    var pts=days.map(function(d,i){return x(i,days.length).toFixed(1)+","+(h-30-d[s[0]]*(h-50)/max).toFixed(1);});
    svg.appendChild(el("polyline",{points:pts.join(" "),fill:"none",stroke:s[1],"stroke-width":2,"data-series":s[0],"data-points":days.length}));
    days.forEach(function(d,i){var c=el("circle",{cx:x(i,days.length),cy:h-30-d[s[0]]*(h-50)/max,r:3,fill:s[1],"data-series":s[0]});c.appendChild(el("title",{},d.date+": "+d[s[0]]+" "+s[0]));svg.appendChild(c);});
  });
}
function events(days){
  var svg=document.getElementById("events"),h=200;svg.textContent="";
  var max=Math.max(1,Math.max.apply(null,days.map(function(d){return Math.max(d.blocks,d.fixes);})));
  axis(svg,days,max,h);
  var w=Math.max(2,900/Math.max(1,days.length)/2-1);
  days.forEach(function(d,i){
    [["blocks","#8250df",-w],["fixes","#1a7f37",0]].forEach(function(s){
      var v=d[s[0]],bh=v*(h-50)/max;
      var r=el("rect",{x:x(i,days.length)+s[2],y:h-30-bh,width:w,height:bh,fill:s[1],"data-series":s[0]});
      r.appendChild(el("title",{},d.date+": "+v+" "+(s[0]==="blocks"?"new blocks":"tickets fixed")));svg.appendChild(r);
    });
  });
}
function show(n){
  var days=all.slice(-n);levels(days);events(days);
  document.querySelectorAll(".charts button").forEach(function(b){b.setAttribute("aria-pressed",String(Math.min(Number(b.dataset.days),all.length)===days.length));});
  root.dataset.window=String(days.length);
}
document.querySelectorAll(".charts button").forEach(function(b){b.addEventListener("click",function(){show(Number(b.dataset.days));});});
var asked=Number(location.hash.slice(1));
show(asked>0?asked:all.length);
root.dataset.rendered="1";
})();"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Decision;
    use crate::domain::history::{Cause, Change, Standing, Vulnerability};
    use crate::domain::remediation::{Current, Settings, Sla, analyze};
    use crate::domain::{ImageRef, Severity};

    fn sample(repository: &str, vulnerability: &str) -> Remediation {
        let image = ImageRef::home(repository, "sha256:ab");
        let block = Change {
            to: Some(Standing::new(Decision::Block, false)),
            tags: vec!["v1".into()],
            blocking: vec![Vulnerability {
                id: vulnerability.into(),
                severity: Severity::Critical,
            }],
            ..Change::new(&image, 1, 1_800_000_000, Cause::Scan)
        };
        let current = Current {
            scope: repository.into(),
            digest: "sha256:ab".into(),
            standing: Standing::new(Decision::Block, false),
            blocking: block.blocking.clone(),
        };
        let settings = Settings {
            now: 1_800_000_000 + 20 * 86_400,
            since: 1_800_000_000 - 400 * 86_400,
            windows: vec![30, 90],
            sla: Sla::default(),
        };
        analyze(&[block], &[current], &settings)
    }

    #[test]
    fn the_page_is_self_contained_and_shows_the_figures() {
        let page = render(&sample("team-a/api", "CVE-2026-1"));
        for external in ["<link", "src=\"", "@import", "url("] {
            assert!(!page.contains(external), "{external}");
        }
        assert!(page.contains("data-figure=\"blocked\"><span class=\"value\">1</span>"));
        assert!(page.contains("data-figure=\"past-sla\"><span class=\"value\">1</span>"));
        assert!(page.contains("<td>team-a/api</td>"));
        assert!(page.contains("CVE-2026-1"));
    }

    #[test]
    fn text_from_aws_cannot_close_an_element_or_the_script() {
        let hostile = "</script><script>alert(1)</script>\u{202e}";
        let page = render(&sample("team/x", hostile));
        assert_eq!(
            page.matches("<script").count(),
            2,
            "only the page's own scripts"
        );
        assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;\\u{202e}"));
        // The inline data is JSON with no raw `<`: nothing in it can close its script element.
        let data = page
            .split("id=\"trend\">")
            .nth(1)
            .and_then(|d| d.split("</script>").next());
        assert!(
            data.is_some_and(|d| d.starts_with('[') && !d.contains('<')),
            "{data:?}"
        );
    }
}
