//! Writes the sample report (`gatekeeper_tests::report_sample`) as its HTML page, and with a second
//! path a screenshot of that page in headless Chromium: the README's picture (`make report-screenshot`).
//! Usage: report_sample PAGE.html [SHOT.png]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a measuring tool: a panic is its error report

use std::path::PathBuf;

use gatekeeper::outbound::report_page::render;
use gatekeeper_tests::{browser, report_sample};

fn main() {
    let mut args = std::env::args().skip(1);
    let page = PathBuf::from(
        args.next()
            .expect("usage: report_sample PAGE.html [SHOT.png]"),
    );
    std::fs::write(&page, render(&report_sample::report())).unwrap();
    println!("wrote {}", page.display());
    if let Some(png) = args.next().map(PathBuf::from) {
        let chromium = browser::chromium().expect("no chromium: apt-get install chromium");
        let page = std::fs::canonicalize(&page).unwrap();
        browser::screenshot(&chromium, &browser::url(&page, "#90"), &png, (1280, 1700)).unwrap();
        println!("wrote {}", png.display());
    }
}
