//! `mapconform check` behaviour: every malformed fixture is rejected with the message and
//! location its first line promises, and every case in the library is valid.
use mapconform::case::{case_files, load_case, load_library};
use std::path::Path;

/// Each fixture starts with `# error: LINE:COLUMN: message prefix`.
fn promised(text: &str) -> (u64, u64, String) {
    let header = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# error: "))
        .expect("fixture header");
    let mut parts = header.splitn(3, ':');
    let line = parts.next().unwrap().trim().parse().unwrap();
    let column = parts.next().unwrap().trim().parse().unwrap();
    (line, column, parts.next().unwrap().trim().to_string())
}

#[test]
fn malformed_fixtures_fail_with_located_messages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let files = case_files(&dir).unwrap();
    assert!(
        files.len() >= 15,
        "expected at least 15 malformed fixtures, found {}",
        files.len()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let (line, column, message) = promised(&text);
        let errors = match load_case(&dir, &file) {
            Ok(_) => panic!("{} parsed, but it is malformed", file.display()),
            Err(errors) => errors,
        };
        let first = &errors[0];
        assert_eq!(first.file, file, "error names its file");
        assert_eq!(
            (first.line, first.column),
            (line, column),
            "{}: located at {}:{}, fixture says {line}:{column}: {}",
            file.display(),
            first.line,
            first.column,
            first.message
        );
        assert!(
            first.message.starts_with(&message),
            "{}: message `{}` does not start with `{message}`",
            file.display(),
            first.message
        );
    }
}

#[test]
fn the_case_library_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let lib = load_library(&root).unwrap();
    let problems: Vec<String> = lib
        .broken
        .iter()
        .flat_map(|(_, e)| e.iter().map(|e| e.to_string()))
        .collect();
    assert!(problems.is_empty(), "broken cases:\n{}", problems.join("\n"));
    assert!(!lib.cases.is_empty(), "no cases found below {}", root.display());
    for case in &lib.cases {
        assert!(!case.about.contains('\n'), "{}: `about` is one line", case.id);
    }
}

#[test]
fn the_committed_coverage_table_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let lib = load_library(&root).unwrap();
    let committed = std::fs::read_to_string(root.join("COVERAGE.md")).unwrap();
    let table = mapconform::coverage::markdown(&lib.cases);
    assert!(
        committed == table,
        "cases/COVERAGE.md is stale: run `mapconform coverage > cases/COVERAGE.md`"
    );
}
