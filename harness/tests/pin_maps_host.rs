//! `mapconform pin-maps` (the guest half of `mapconform shell`) on this kernel: the case's
//! maps stay pinned after the executor is done with the case. Needs root, like host.rs.
use std::path::Path;

#[test]
fn maps_stay_pinned_after_the_case() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let case = mapconform::case::load_case(&cases, &cases.join("array_of_maps/create-inner.yaml")).unwrap();
    let dir = Path::new("/sys/fs/bpf").join(format!("mapconform-pin-test-{}", std::process::id()));
    let lines = mapconform::shell::pin_maps(&case, &dir, false).unwrap();
    let pinned: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    // every map the kernel created is pinned, the others say why not
    assert!(
        lines.contains(&format!("inner: array map pinned at {}/inner", dir.display())),
        "{lines:?}"
    );
    assert!(
        lines.contains(&format!("good: array_of_maps map pinned at {}/good", dir.display())),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("val8: array_of_maps map not pinned: map val8 was not created")),
        "{lines:?}"
    );
    let mut pinned = pinned;
    pinned.sort();
    assert_eq!(pinned, ["good", "inner"]);
}
