//! What the VM layer boots: a kernel image (or a built tree) and what is known of it. The
//! kernel cache and the matrix (the `kernels` module) make these; the VM layer only reads them.

use std::path::PathBuf;

/// A kernel to boot: from the cache or from a user path (`kernels::Kernel::from_path`).
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    /// Matrix id, or the path given by the user.
    pub id: String,
    /// `uname -r`, when known before booting.
    pub release: Option<String>,
    /// Debian version, for a cached kernel.
    pub version: Option<String>,
    /// What `vng --run` is given: a vmlinux/bzImage file or a built kernel tree.
    pub boot_image: PathBuf,
    /// Module directory (`…/lib/modules/<release>`) if any; vng finds it by itself.
    pub modules: Option<PathBuf>,
}
