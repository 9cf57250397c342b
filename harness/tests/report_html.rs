//! The HTML report in a real browser: Debian's headless `chromium` loads the page built
//! from the committed snapshots, runs its `#selftest` (click a changed cell, use the
//! filters) and we read what the DOM shows; then a screenshot. Fails — does not skip —
//! when chromium is missing (`scripts/run` installs it).
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chromium() -> String {
    let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{bin}` not found: install Debian's chromium (`scripts/run setup` does), or set $CHROMIUM"
    );
    bin
}

/// Run headless chromium on `url` with `args`, bounded in time; its stdout.
fn run_chromium(bin: &str, profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromium");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium {args:?} failed: {status}");
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} took more than 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

/// Case ids that have a committed snapshot on some kernel.
fn snapshot_cases(dir: &Path, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            snapshot_cases(&path, &format!("{prefix}{name}/"), out);
        } else if let Some(stem) = name.strip_suffix(".snap") {
            out.insert(format!("{prefix}{stem}"));
        }
    }
}

/// The text of `<pre id="selftest">` in a dumped DOM.
fn selftest_text(dom: &str) -> String {
    let start = dom
        .find("<pre id=\"selftest\">")
        .unwrap_or_else(|| panic!("no <pre id=\"selftest\"> in the DOM:\n{}", &dom[..dom.len().min(2000)]));
    let rest = &dom[start + "<pre id=\"selftest\">".len()..];
    let text = &rest[..rest.find("</pre>").expect("unclosed selftest <pre>")];
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[test]
fn the_report_page_lists_everything_and_opens_a_diff_in_chromium() {
    let bin = chromium();
    let root = repo();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let status = Command::new(env!("CARGO_BIN_EXE_mapconform"))
        .args(["report", "--quiet", "--out"])
        .arg(&out)
        .arg("--snapshots")
        .arg(root.join("snapshots"))
        .status()
        .unwrap();
    assert!(status.success(), "mapconform report failed: {status}");
    let page = out.join("report.html");
    let url = format!("file://{}#selftest", page.display());
    let profile = tmp.path().join("profile");

    let dom = run_chromium(&bin, &profile, &["--virtual-time-budget=5000", "--dump-dom"], &url);
    let seen: serde_json::Value = serde_json::from_str(&selftest_text(&dom)).expect("selftest JSON");

    let matrix = mapconform::kernels::Matrix::load(&root.join("kernels/matrix.yaml")).unwrap();
    let kernels: Vec<&str> = matrix.kernels.iter().map(|k| k.id.as_str()).collect();
    let shown: Vec<&str> = seen["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(shown, kernels, "every matrix kernel is a column, in matrix order");

    let mut cases = std::collections::BTreeSet::new();
    for k in &kernels {
        snapshot_cases(&root.join("snapshots").join(k), "", &mut cases);
    }
    let rows: Vec<String> = seen["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(rows, cases.iter().cloned().collect::<Vec<_>>(), "every case is a row");

    // The click opened the panel for that cell, with a diff against the previous kernel.
    let clicked = &seen["clicked"];
    assert!(clicked.is_object(), "no changed cell to click: {seen}");
    let panel = &seen["panel"];
    assert_eq!(panel["visible"], true, "{panel}");
    assert_eq!(panel["case"], clicked["case"]);
    assert_eq!(panel["kernel"], clicked["kernel"]);
    assert!(
        panel["diff_title"].as_str().unwrap().starts_with("diff against "),
        "{panel}"
    );
    assert!(
        panel["added"].as_u64().unwrap() + panel["removed"].as_u64().unwrap() > 0,
        "{panel}"
    );
    assert!(panel["body_chars"].as_u64().unwrap() > 0, "{panel}");

    // Filters: only differences hides the cases that behave the same everywhere.
    let only: Vec<&str> = seen["only_differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!only.is_empty() && only.len() < rows.len(), "{only:?}");
    assert!(only.contains(&clicked["case"].as_str().unwrap()));
    let hash: Vec<&str> = seen["map_type_hash"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected_hash: Vec<&str> = rows
        .iter()
        .filter(|c| c.starts_with("hash/"))
        .map(String::as_str)
        .collect();
    assert_eq!(hash, expected_hash, "the map type filter shows exactly the hash cases");

    // A screenshot a person can look at (kept in target/); a blank page is ~5 KB.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    run_chromium(&bin, &profile, &[&arg, "--window-size=1280,900"], &url);
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 30_000,
        "screenshot of {} bytes looks blank: {}",
        png.len(),
        shot.display()
    );
    eprintln!("screenshot: {}", shot.display());
}
