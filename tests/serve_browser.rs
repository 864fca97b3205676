//! The inspector's timeline in a real browser: headless Chromium (Debian's `chromium`;
//! `.ci/run` installs it when missing) opens the page of a case with a risk escalation
//! (CRC → NPS, BR-A7/BR-A8, seed 001 l.55-68), a correction and a prison-to-community handover
//! (POM → COM, OMiC 2019, handover-rules.md §7), checks what it shows and saves a screenshot
//! under the target directory (docs/timeline.png is one of them).
//!
//! The case is tests/data/serve_timeline_case.jsonl — the commands of
//! fixtures/scenarios/nottingham_escalation_nps_ratchet.jsonl and handover_7_5_months.jsonl
//! on one CRN — imported and ticked with the CLI; the correction is sent over HTTP.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use serve_support::*;

const CHROMIUM: &str = "/usr/bin/chromium";

fn caseledger(data: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)"
    );
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_shows_escalation_correction_and_handover_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let commands =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/serve_timeline_case.jsonl");
    caseledger(&data, &["import", commands.to_str().unwrap()]);
    caseledger(&data, &["tick", "--to", "2021-06-01"]);
    let server = Server::start(&data, Keys::Hs256);
    let client = Client::new();

    // A senior probation officer corrects the RoSH review of December 2015.
    let spo = hs256(&claims("N079SPO1", "senior_probation_officer", "nps"));
    let history: Value = client
        .get(server.url("/cases/Y000001/history"))
        .bearer_auth(&spo)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let review = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["event_type"] == "RiskAssessed"
                && e["effective_at"]
                    .as_str()
                    .unwrap()
                    .starts_with("2015-12-01")
        })
        .expect("the December 2015 review");
    let correction = json!({"command_id": uuid(1), "crn": "Y000001", "effective_at": "2016-01-04",
        "command": {"type": "correct_event", "on": "2016-01-04", "corrected_event_id": review["event_id"],
                    "corrected_event_type": "RiskAssessed", "reason": "review entered against the wrong assessment date"}});
    let r = client
        .post(server.url("/commands"))
        .bearer_auth(&spo)
        .json(&correction)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    let inspector = hs256(&claims("HMIP01", "inspector", "hmi_probation"));
    let url = server.url(&format!(
        "/cases/Y000001/timeline?today=2024-06-01&access_token={inspector}"
    ));
    let profile = dir.path().join("chromium");
    let dom = chromium(&profile, &["--dump-dom"], &url);
    for expected in [
        "<h1><span class=\"govuk-caption\">Case</span>Y000001</h1>",
        "RiskEscalationRequested",
        "RiskEscalationDecided",
        "Provider (CRC → NPS or back)</strong>: CRC (DLNR CRC) → NPS",
        "Responsibility (custody POM → community COM)</strong>: custody_with_com → community",
        "ResponsibilityTransferred",
        "Corrected by <a href=\"#event-",
        "review entered against the wrong assessment date",
        "<h3>Corrects <a href=\"#event-",
        "N079SPO1 (senior_probation_officer, nps)",
        "Reason code</dt><dd>lower_risk_to_crc",
        "tr-2014",
        "<h3>Why</h3>",
        "<label class=\"govuk-label\" for=\"as_of_recorded\">Recorded by</label>",
        "<label class=\"govuk-label\" for=\"as_of_effective\">Effective by</label>",
    ] {
        assert!(dom.contains(expected), "the timeline shows {expected:?}");
    }
    assert!(
        !dom.contains("Not yet effective"),
        "everything is effective now"
    );

    // As of the end of 2015 (effective): the custody sentence and handover are not yet in effect.
    let before = chromium(
        &profile,
        &["--dump-dom"],
        &format!("{url}&as_of_effective=2015-12-31"),
    );
    assert!(before.contains("Not yet effective at the chosen time"));
    assert!(
        before.contains("value=\"2015-12-31\""),
        "the form keeps the chosen bound"
    );
    assert!(
        !before.contains("custody_with_com → community"),
        "the handover is not yet effective"
    );

    // The screenshot, under the target directory.
    let shot: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
            "--hide-scrollbars",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 20_000,
        "a page, not a blank image ({} bytes)",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}
