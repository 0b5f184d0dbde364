//! The report's HTML page in a real browser (Debian's Chromium, headless): its scripts run without an
//! error, draw the 90-day and 30-day trend from the inlined data, and the page shows the figures the
//! report computed. Needs `chromium`: `make browser` (part of `make test`) installs it and runs this.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper::outbound::report_page::render;
use gatekeeper_tests::browser::{chromium, dump_dom, url};
use gatekeeper_tests::report_sample;

#[test]
#[ignore = "needs Debian's chromium: run by `make browser`, part of `make test`"]
fn the_report_page_renders_its_figures_and_both_trends_in_headless_chromium() {
    let chromium = chromium()
        .expect("no chromium on the PATH (apt-get install chromium, or set GATEKEEPER_CHROMIUM)");
    let report = report_sample::report();
    // The sample has something in every part of the page.
    assert!(
        report.now.blocked > 0 && report.now.warned > 0,
        "{:?}",
        report.now
    );
    assert!(report.windows[1].fixed.count > 0 && report.now.open_tickets > 0);
    let dir = std::env::temp_dir().join(format!("gk-report-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, render(&report)).unwrap();

    let shown = dump_dom(&chromium, &url(&page, ""), &dir);
    let dom = &shown.dom;
    assert!(
        dom.contains("data-rendered=\"1\""),
        "the script did not finish:\n{}",
        shown.log
    );
    assert!(
        dom.contains("data-errors=\"0\""),
        "script errors:\n{}",
        shown.log
    );
    assert_eq!(shown.console_errors(), Vec::<&str>::new());
    let tiles = [
        ("blocked", report.now.blocked),
        ("warned", report.now.warned),
        ("released", report.now.released),
        ("open", report.now.open_tickets),
        ("past-sla", report.now.open_past_sla),
    ];
    for (id, value) in tiles {
        let tile = format!("data-figure=\"{id}\"><span class=\"value\">{value}</span>");
        assert!(dom.contains(&tile), "{tile} not in the page");
    }
    // The whole trend (90 days): one polyline per series, a point and two bars per day.
    // The window the script drew, on the root element (nothing else carries `data-window`).
    assert_eq!(dom.matches("data-window=").count(), 1);
    assert!(dom.contains("data-window=\"90\""));
    assert_eq!(dom.matches("data-points=\"90\"").count(), 2);
    assert_eq!(dom.matches("<circle").count(), 180);
    assert_eq!(dom.matches("<rect").count(), 180);
    let last = &report.trend[89];
    let tooltip = format!("<title>{}: {} blocked</title>", last.date, last.blocked);
    assert!(dom.contains(&tooltip), "{tooltip}");
    let peak = report
        .trend
        .iter()
        .map(|d| d.blocked.max(d.warned))
        .max()
        .unwrap();
    assert!(
        dom.contains(&format!("font-size=\"12\">{peak}</text>")),
        "the scale tops at {peak}"
    );

    // `#30`: the last 30 days, as the 30-day button draws them.
    let month = dump_dom(&chromium, &url(&page, "#30"), &dir);
    assert!(month.dom.contains("data-window=\"30\"") && month.dom.contains("data-errors=\"0\""));
    assert!(
        month.dom.contains("data-days=\"30\" aria-pressed=\"true\""),
        "the 30-day button is pressed"
    );
    assert_eq!(month.dom.matches("data-points=\"30\"").count(), 2);
    assert_eq!(month.dom.matches("<circle").count(), 60);
    let first = &report.trend[60];
    assert!(
        month.dom.contains(&format!(">{}</text>", first.date)),
        "the axis starts at {}",
        first.date
    );
    let _ = std::fs::remove_dir_all(&dir);
}
