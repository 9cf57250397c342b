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

/// Fuzzing the case parser (stable Rust, a bounded number of inputs so it stays fast):
/// mutations of the real case files and generated case texts. For every input: no panic;
/// every error names the file, a line and a column (1-based); every accepted case is
/// accepted again by `check`'s path (a file in a folder through `load_library`) with the
/// same maps and steps, and round-trips: written back as a case file
/// (`case::render::to_yaml`) it parses to the same case.
mod fuzz {
    use mapconform::case::{load_library, parse_case, render};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use std::path::Path;

    /// Fragments that stress YAML syntax and the case format alike.
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ": ",
        ", ",
        "- ",
        "\n",
        "\n  ",
        "\n    ",
        " ",
        "#",
        "\"",
        "'",
        "\t",
        "0x",
        "-1",
        "4294967296",
        "18446744073709551616",
        "{map_fd: nope}",
        "{map: m}",
        "../x",
        "/abs",
        "key_size",
        "value_size: 0",
        "{percpu: [1, 2]}",
        "{hex: zz}",
        "{hex: '0a'}",
        "[{u32: 1}]",
        "[{u24: 1}]",
        "expect: ok",
        "expect: EWHAT",
        "{ret: -EEXIST}",
        "~",
        "null",
        "&a ",
        "*a",
        "!!str ",
        "|",
        ">",
        "---",
        "...",
        "é",
        "type: rhash",
        "type: insn_array",
        "flags: [lock, exist]",
        "{op: pop}",
        "path: ../../etc",
        "batch: 0",
        "%",
    ];

    const KINDS: &[&str] = &[
        "create",
        "update",
        "lookup",
        "delete",
        "get_next_key",
        "lookup_and_delete",
        "push",
        "pop",
        "peek",
        "dump",
        "close",
        "freeze",
        "update_batch",
        "lookup_batch",
        "lookup_and_delete_batch",
        "delete_batch",
        "prog",
        "traffic",
        "pin",
        "get_pinned",
        "get_by_id",
        "bogus",
    ];

    const TYPES: &[&str] = &[
        "hash",
        "array",
        "percpu_hash",
        "percpu_array",
        "lru_hash",
        "lpm_trie",
        "array_of_maps",
        "hash_of_maps",
        "queue",
        "stack",
        "ringbuf",
        "bloom_filter",
        "insn_array",
        "rhash",
        "hsah",
    ];

    fn datum() -> impl Strategy<Value = String> {
        prop_oneof![
            (-3i64..300).prop_map(|v| v.to_string()),
            Just("{hex: '0a0b0c0d'}".to_string()),
            Just("[{u32: 1}, {u32: 2}]".to_string()),
            Just("{percpu: [1, 2]}".to_string()),
            Just("{map_fd: m0}".to_string()),
            Just("{map_fd: zz}".to_string()),
            Just("\"text\"".to_string()),
        ]
    }

    fn map_decl() -> impl Strategy<Value = String> {
        (
            prop::sample::select(TYPES),
            prop_oneof![0u64..9, Just(4294967295u64), Just(4294967296u64)],
            prop_oneof![0u64..17, Just(65536u64), Just(4294967295u64)],
            0u64..5,
            prop::option::of(prop::sample::select(
                &["no_prealloc", "[rdonly, zero_seed]", "lock"][..],
            )),
        )
            .prop_map(|(t, k, v, n, flags)| {
                let flags = flags.map(|f| format!(", flags: {f}")).unwrap_or_default();
                format!("{{type: {t}, key_size: {k}, value_size: {v}, max_entries: {n}{flags}}}")
            })
    }

    fn step() -> impl Strategy<Value = String> {
        (
            prop::sample::select(KINDS),
            0usize..4,
            prop::option::of(datum()),
            prop::option::of(datum()),
            prop::option::of(prop::sample::select(&["noexist", "[exist, lock]", "nope"][..])),
            prop::option::of(prop::sample::select(
                &[
                    "path: p",
                    "path: ../p",
                    "path: /sys/fs/bpf/x",
                    "batch: 2",
                    "batch: 4294967295",
                    "op: lookup",
                    "op: pop",
                    "packets: 1",
                ][..],
            )),
            prop::option::of(prop::sample::select(
                &[
                    "ok",
                    "ENOENT",
                    "{value: 1}",
                    "{key: {map_fd: m1}}",
                    "{entries: []}",
                    "{ret: 0}",
                    "EWHAT",
                ][..],
            )),
        )
            .prop_map(|(kind, map, key, value, flags, extra, expect)| {
                let mut args = format!("map: m{map}");
                if let Some(k) = key {
                    args += &format!(", key: {k}");
                }
                if let Some(v) = value {
                    args += &format!(", value: {v}");
                }
                if let Some(f) = flags {
                    args += &format!(", flags: {f}");
                }
                if let Some(e) = extra {
                    args += &format!(", {e}");
                }
                let expect = expect.map(|e| format!("\n    expect: {e}")).unwrap_or_default();
                format!("  - {kind}: {{{args}}}{expect}\n")
            })
    }

    fn generated_case() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(map_decl(), 0..4),
            prop::collection::vec(step(), 0..6),
        )
            .prop_map(|(maps, steps)| {
                let mut text = String::from("about: generated\nsource: fuzz\nmaps:\n");
                for (i, m) in maps.iter().enumerate() {
                    text += &format!("  m{i}: {m}\n");
                }
                if maps.is_empty() {
                    text += "  {}\n";
                }
                text += "steps:\n";
                text += &steps.concat();
                if steps.is_empty() {
                    text += "  []\n";
                }
                text
            })
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Delete { at: usize, len: usize },
        Insert { at: usize, token: usize },
        DuplicateLine { line: usize },
        SwapLines { a: usize, b: usize },
        Replace { at: usize, with: char },
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 1usize..12).prop_map(|(at, len)| Mutation::Delete { at, len }),
            (any::<usize>(), any::<usize>()).prop_map(|(at, token)| Mutation::Insert { at, token }),
            any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
            (any::<usize>(), any::<char>()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        ]
    }

    fn mutate(text: &str, mutations: &[Mutation]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for m in mutations {
            let n = chars.len().max(1);
            match m {
                Mutation::Delete { at, len } => {
                    let at = at % n;
                    let end = (at + len).min(chars.len());
                    chars.drain(at.min(end)..end);
                }
                Mutation::Insert { at, token } => {
                    let at = at % (chars.len() + 1);
                    let token = TOKENS[token % TOKENS.len()];
                    chars.splice(at..at, token.chars());
                }
                Mutation::DuplicateLine { line } | Mutation::SwapLines { a: line, .. } => {
                    let text: String = chars.iter().collect();
                    let mut lines: Vec<&str> = text.lines().collect();
                    if lines.is_empty() {
                        continue;
                    }
                    let i = line % lines.len();
                    match m {
                        Mutation::SwapLines { b, .. } => {
                            let j = b % lines.len();
                            lines.swap(i, j);
                        }
                        _ => lines.insert(i, lines[i]),
                    }
                    chars = (lines.join("\n") + "\n").chars().collect();
                }
                Mutation::Replace { at, with } => {
                    if !chars.is_empty() {
                        let at = at % chars.len();
                        chars[at] = *with;
                    }
                }
            }
        }
        chars.into_iter().collect()
    }

    /// The parser's contract for any text.
    fn holds(text: &str) -> Result<(), TestCaseError> {
        let file = Path::new("fuzz.yaml");
        match parse_case(file, "fuzz", text) {
            Err(errors) => {
                prop_assert!(!errors.is_empty(), "rejected without an error");
                for e in &errors {
                    prop_assert_eq!(&e.file, file);
                    prop_assert!(
                        e.line >= 1 && e.column >= 1 && !e.message.is_empty(),
                        "error without a location: {}\n--- text:\n{}",
                        e,
                        text
                    );
                }
            }
            Ok(case) => {
                let dir = tempfile::tempdir().unwrap();
                std::fs::write(dir.path().join("fuzz.yaml"), text).unwrap();
                let lib = load_library(dir.path()).unwrap();
                prop_assert!(lib.broken.is_empty(), "parsed, but check rejects it: {:?}", lib.broken);
                prop_assert_eq!(lib.cases.len(), 1);
                let again = &lib.cases[0];
                prop_assert_eq!(format!("{:?}", again.maps), format!("{:?}", case.maps));
                prop_assert_eq!(format!("{:?}", again.steps), format!("{:?}", case.steps));
                prop_assert_eq!(&again.id, &case.id);
                // Written back as a case file, it parses to the same case.
                let rendered = render::to_yaml(&case);
                let back = parse_case(file, "fuzz", &rendered);
                prop_assert!(back.is_ok(), "rendered case rejected: {:?}\n{}", back.err(), rendered);
                let back = back.unwrap();
                let ops = |c: &mapconform::case::Case| {
                    format!("{:?}", c.steps.iter().map(|s| (&s.op, &s.expect)).collect::<Vec<_>>())
                };
                prop_assert_eq!(format!("{:?}", back.maps), format!("{:?}", case.maps));
                prop_assert_eq!(ops(&back), ops(&case), "{}", rendered);
                prop_assert_eq!((&back.about, &back.source), (&case.about, &case.source));
            }
        }
        Ok(())
    }

    fn library_texts() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
        mapconform::case::case_files(&root)
            .unwrap()
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    }

    #[test]
    fn mutated_library_cases_never_panic_and_errors_are_located() {
        let texts = library_texts();
        let strategy = (prop::sample::select(texts), prop::collection::vec(mutation(), 1..4));
        let mut runner = TestRunner::new(Config {
            cases: 1000,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&strategy, |(text, mutations)| holds(&mutate(&text, &mutations)))
            .unwrap();
    }

    #[test]
    fn generated_cases_never_panic_and_errors_are_located() {
        let mut runner = TestRunner::new(Config {
            cases: 1000,
            failure_persistence: None,
            ..Config::default()
        });
        runner.run(&generated_case(), |text| holds(&text)).unwrap();
    }

    #[test]
    fn every_library_case_holds_unmutated() {
        for text in library_texts() {
            holds(&text).unwrap();
        }
    }
}
