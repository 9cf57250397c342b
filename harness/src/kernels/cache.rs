//! The kernel cache: `<cache>/kernels/<id>/` with a `kernel.json` record per kernel.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::vmlinux;
pub use crate::vm::Kernel;

/// A Debian package at an exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    pub name: String,
    pub version: String,
}

/// What `kernel.json` records about a cached kernel. Paths are relative to the kernel's dir.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelRecord {
    pub id: String,
    pub suites: Vec<String>,
    /// The metapackage and the version it resolved to (the Debian source version).
    pub meta: PackageRef,
    /// The packages downloaded, exactly.
    pub packages: Vec<PackageRef>,
    /// `uname -r` of the kernel.
    pub release: String,
    /// Uncompressed ELF kernel (booted through QEMU's PVH entry).
    pub vmlinux: String,
    pub config: String,
    /// The pruned module tree root: `<dir>/<modules_root>/lib/modules/<release>`.
    pub modules: String,
    /// Modules kept (relative to the module dir).
    pub kept_modules: Vec<String>,
    pub download_bytes: u64,
    pub fetch_seconds: f64,
    /// Seconds since the epoch.
    pub fetched_at: u64,
}

impl Kernel {
    /// A kernel from a user path: a bzImage / vmlinux file, or a built kernel tree (a
    /// directory with `.config` and `arch/x86/boot/bzImage`; vng handles its modules).
    pub fn from_path(path: &Path) -> Result<Kernel> {
        let path = std::fs::canonicalize(path).with_context(|| format!("kernel {}", path.display()))?;
        let id = path.display().to_string();
        if path.is_dir() {
            let img = path.join("arch/x86/boot/bzImage");
            if !img.is_file() || !path.join(".config").is_file() {
                bail!("{id}: a kernel tree needs .config and arch/x86/boot/bzImage (build it first)");
            }
            let release = std::fs::read(path.join("include/config/kernel.release"))
                .ok()
                .map(|b| String::from_utf8_lossy(&b).trim().to_string());
            return Ok(Kernel {
                id,
                release,
                version: None,
                boot_image: path,
                modules: None,
            });
        }
        let data = std::fs::read(&path).with_context(|| format!("reading {id}"))?;
        if !data.starts_with(vmlinux::ELF_MAGIC) && !vmlinux::is_bzimage(&data) {
            bail!("{id}: neither a bzImage nor a vmlinux ELF");
        }
        let release = vmlinux::kernel_release(&data);
        // vng looks for <root>/lib/modules/<release> above the image; say if it is there.
        let modules = release.as_ref().and_then(|r| {
            path.ancestors().skip(1).find_map(|a| {
                let m = a.join("lib/modules").join(r);
                m.is_dir().then_some(m)
            })
        });
        Ok(Kernel {
            id,
            release,
            version: None,
            boot_image: path,
            modules,
        })
    }
}

/// A cached kernel as listed.
#[derive(Debug, Clone)]
pub struct CachedKernel {
    pub record: KernelRecord,
    pub dir: PathBuf,
    /// Bytes on disk.
    pub size: u64,
}

impl CachedKernel {
    pub fn kernel(&self) -> Kernel {
        Kernel {
            id: self.record.id.clone(),
            release: Some(self.record.release.clone()),
            version: Some(self.record.meta.version.clone()),
            boot_image: self.dir.join(&self.record.vmlinux),
            modules: Some(self.dir.join(&self.record.modules)),
        }
    }
}

/// The cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    pub root: PathBuf,
}

/// `$MAPCONFORM_CACHE`, else `$XDG_CACHE_HOME/mapconform`, else `~/.cache/mapconform`.
pub fn cache_root_from(
    mapconform_cache: Option<&str>,
    xdg_cache_home: Option<&str>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    let nonempty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(PathBuf::from);
    nonempty(mapconform_cache)
        .or_else(|| nonempty(xdg_cache_home).map(|p| p.join("mapconform")))
        .or_else(|| home.map(|h| h.join(".cache/mapconform")))
}

pub const RECORD: &str = "kernel.json";

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// The cache of this environment (see [`cache_root_from`]).
    pub fn from_env() -> Result<Cache> {
        let var = |k| std::env::var(k).ok();
        cache_root_from(
            var("MAPCONFORM_CACHE").as_deref(),
            var("XDG_CACHE_HOME").as_deref(),
            dirs::home_dir().as_deref(),
        )
        .map(Cache::new)
        .context("no cache directory: set MAPCONFORM_CACHE")
    }

    pub fn kernels_dir(&self) -> PathBuf {
        self.root.join("kernels")
    }
    pub fn kernel_dir(&self, id: &str) -> PathBuf {
        self.kernels_dir().join(id)
    }
    pub fn apt_dir(&self) -> PathBuf {
        self.root.join("apt")
    }

    /// The record of cached kernel `id`, if there is one.
    pub fn get(&self, id: &str) -> Result<Option<CachedKernel>> {
        let dir = self.kernel_dir(id);
        let rec = dir.join(RECORD);
        if !rec.is_file() {
            return Ok(None);
        }
        let record: KernelRecord =
            serde_json::from_slice(&std::fs::read(&rec)?).with_context(|| format!("reading {}", rec.display()))?;
        let size = dir_size(&dir);
        Ok(Some(CachedKernel { record, dir, size }))
    }

    /// All cached kernels, sorted by id.
    pub fn list(&self) -> Result<Vec<CachedKernel>> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(self.kernels_dir()) else {
            return Ok(out);
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.ends_with(".new") || name.ends_with(".old") {
                continue;
            }
            if let Some(k) = self.get(&name)? {
                out.push(k);
            }
        }
        out.sort_by_key(|k| version_key(&k.record.id));
        Ok(out)
    }

    /// A kernel to boot from `spec`: a cached matrix id, or a path (see [`Kernel::from_path`]).
    pub fn resolve(&self, spec: &str) -> Result<Kernel> {
        if let Some(k) = self.get(spec)? {
            return Ok(k.kernel());
        }
        let p = Path::new(spec);
        if spec.contains('/') || p.exists() {
            return Kernel::from_path(p);
        }
        bail!(
            "kernel {spec:?} is not in the cache {} (run `mapconform kernels fetch {spec}`), and no such path exists",
            self.root.display()
        )
    }
}

/// Sort key: `5.10` before `6.1` before `6.12`.
pub fn version_key(id: &str) -> Vec<u64> {
    id.split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Bytes on disk under `path` (files only, symlinks not followed).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if md.is_dir() {
        std::fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
            .unwrap_or(0)
    } else {
        md.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_root_precedence() {
        let home = Path::new("/home/u");
        assert_eq!(
            cache_root_from(Some("/c"), Some("/x"), Some(home)).unwrap(),
            PathBuf::from("/c")
        );
        assert_eq!(
            cache_root_from(None, Some("/x"), Some(home)).unwrap(),
            PathBuf::from("/x/mapconform")
        );
        assert_eq!(
            cache_root_from(Some(""), Some(""), Some(home)).unwrap(),
            PathBuf::from("/home/u/.cache/mapconform")
        );
        assert_eq!(cache_root_from(None, None, None), None);
    }

    #[test]
    fn ids_sort_numerically() {
        let mut ids = vec!["7.3", "6.12", "5.10", "6.1", "7.2"];
        ids.sort_by_key(|i| version_key(i));
        assert_eq!(ids, ["5.10", "6.1", "6.12", "7.2", "7.3"]);
    }
}
