//! mapconform: a conformance suite for Linux eBPF maps across kernel versions.
//!
//! Pure parts (no syscalls), bottom up: [`uapi`] (the kernel's vocabulary: map types,
//! flags, errnos; imports nothing of the crate), [`outcome`] (what a kernel did; imports
//! only `uapi`), [`case`] (the YAML case format), [`snapshot`] (where results are kept),
//! [`report`] (rendering).
//! Parts that talk to a kernel: [`bpf`] (raw bpf(2)), [`exec`] (runs a case's steps),
//! [`prog`] (XDP programs run through BPF_PROG_TEST_RUN or real traffic).
//! Infrastructure: [`kernels`] (the kernel matrix and cache), [`vm`] (booting with
//! virtme-ng), [`matrix`] (every case on every kernel: one boot per kernel).
pub mod bench;
pub mod bpf;
pub mod case;
pub mod compare;
pub mod coverage;
pub mod exec;
pub mod guest;
pub mod kernels;
pub mod matrix;
pub mod oracle;
pub mod outcome;
pub mod prog;
pub mod report;
pub mod shared_log;
pub mod shell;
pub mod snapshot;
pub mod uapi;
pub mod ui;
pub mod vm;

#[cfg(test)]
mod layering;

/// The repository root (where `kernels/`, `cases/` and `.venv/` live): `$MAPCONFORM_REPO`,
/// else the parent of this crate's manifest dir.
pub fn repo_root() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("MAPCONFORM_REPO") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}
