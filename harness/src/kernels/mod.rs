//! The kernel matrix and the kernel cache: which Debian kernels to test on, fetching them
//! (apt with a private state dir), and describing a kernel to boot.

pub mod apt;
pub mod cache;
pub mod cli;
pub mod fetch;
pub mod matrix;
pub mod vmlinux;

pub use cache::{Cache, CachedKernel, Kernel, KernelRecord, PackageRef};
pub use fetch::{fetch, FetchStatus, Resolution};
pub use matrix::{Matrix, MatrixEntry, Packaging};

/// The repository root (where `kernels/` and `.venv/` live): `$MAPCONFORM_REPO`, else the
/// parent of this crate's manifest dir.
pub fn repo_root() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("MAPCONFORM_REPO") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}
