//! Every case whose reviewed snapshots differ between matrix kernels is explained in
//! `snapshots/explanations.yaml` (and so in the report's "behaviour changes"): a new
//! cross-kernel difference cannot land as an unexplained snapshot.
use mapconform::case::{case_files, case_id};
use mapconform::kernels::matrix::Matrix;
use mapconform::report::explanations;
use mapconform::snapshot::read_body;

#[test]
fn every_cross_kernel_difference_is_explained() {
    let root = mapconform::repo_root();
    let matrix = Matrix::load(&root.join("kernels/matrix.yaml")).expect("kernels/matrix.yaml");
    let kernels: Vec<&str> = matrix.kernels.iter().map(|k| k.id.as_str()).collect();
    let snapshots = root.join("snapshots");
    let explained = explanations::load(&snapshots.join("explanations.yaml")).expect("explanations.yaml parses");
    let cases = root.join("cases");
    let mut unexplained = Vec::new();
    let mut differing = 0;
    for file in case_files(&cases).expect("cases/") {
        let id = case_id(&cases, &file);
        let bodies: Vec<Option<String>> = kernels.iter().map(|k| read_body(&snapshots, k, &id)).collect();
        // A missing snapshot fails the matrix trial itself; only reviewed ones count here.
        let mut distinct: Vec<&String> = bodies.iter().flatten().collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() > 1 {
            differing += 1;
            if !explained.iter().any(|e| e.covers(&id)) {
                unexplained.push(id);
            }
        }
    }
    assert!(differing > 0, "no case differs between kernels: are the snapshots there?");
    assert!(
        unexplained.is_empty(),
        "{} cases differ between kernels with no entry in snapshots/explanations.yaml covering them: {}",
        unexplained.len(),
        unexplained.join(", ")
    );
}
