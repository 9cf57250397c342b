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

pub use crate::repo_root;
