//! The kernel's module tree as the guest loads it fastest: decompressed.
//!
//! vng's initramfs loads the 9p modules (and overlay, virtio_mmio) with busybox `insmod`
//! before it can mount the root. The cached trees hold Debian's `.ko.xz`: busybox first
//! hands the compressed file to `finit_module()`, the kernel refuses it ("Invalid ELF header
//! magic", busybox passes no MODULE_INIT_COMPRESSED_FILE), and busybox then decompresses it
//! itself, under TCG, and loads it with `init_module()`. So the harness keeps, per release,
//! a copy of the cached tree with every module decompressed and depmod rerun over it, plus
//! a hard link to the image above it: vng looks for `lib/modules/<release>` in the folders
//! above the image it boots (`get_rootfs_from_kernel_path()`, virtme/commands/run.py), so
//! booting the link makes vng and the guest's `/lib/modules` use the decompressed tree.
//!
//! The copy lives in the cache beside the guest root, is built once (under a temporary
//! name, then renamed, so concurrent runs never see half of it) and is rebuilt when the
//! cached tree it came from changes (its `modules.dep` modification time, kept in a stamp).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::Kernel;

/// The folder of decompressed trees, in the kernel cache beside [`super::root::CACHE_DIR`].
pub const CACHE_DIR: &str = "guest-modules";

/// What the stamp file records of the source tree.
const STAMP: &str = ".mapconform-source";

/// `kernel` booted from its decompressed copy in `dir` (built if missing or stale): the
/// same kernel, with `boot_image` and `modules` in `dir/<release>/`. A kernel without a
/// known release or module tree is returned as it is.
pub fn decompressed(dir: &Path, kernel: &Kernel) -> Result<Kernel> {
    let (Some(release), Some(modules)) = (&kernel.release, &kernel.modules) else {
        return Ok(kernel.clone());
    };
    if !kernel.boot_image.is_file() || !modules.join("modules.dep").is_file() {
        return Ok(kernel.clone());
    }
    let stamp = source_stamp(&kernel.boot_image, modules)?;
    let base = dir.join(release);
    if std::fs::read_to_string(base.join(STAMP)).ok().as_deref() != Some(stamp.as_str()) {
        build(dir, &base, release, &kernel.boot_image, modules, &stamp)
            .with_context(|| format!("preparing the decompressed modules of {release} in {}", base.display()))?;
    }
    Ok(Kernel {
        boot_image: base.join(image_name(&kernel.boot_image)),
        modules: Some(base.join("lib/modules").join(release)),
        ..kernel.clone()
    })
}

fn image_name(image: &Path) -> &std::ffi::OsStr {
    image.file_name().unwrap_or(std::ffi::OsStr::new("vmlinux"))
}

/// Where the tree came from and when it last changed (the image and `modules.dep` paths and
/// modification times), and what the copy leaves out.
fn source_stamp(image: &Path, modules: &Path) -> Result<String> {
    let mtime = |p: &Path| -> Result<u128> {
        let m = std::fs::metadata(p).and_then(|m| m.modified())?;
        Ok(m.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0))
    };
    let dep = modules.join("modules.dep");
    // what the copy leaves out is part of it: a change of the list rebuilds the copies
    Ok(format!(
        "{} {}\n{} {}\nwithout {}\n",
        image.display(),
        mtime(image)?,
        dep.display(),
        mtime(&dep)?,
        UNUSED.join(" ")
    ))
}

fn build(dir: &Path, base: &Path, release: &str, image: &Path, modules: &Path, stamp: &str) -> Result<()> {
    let tmp = dir.join(format!(".tmp-{release}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let tree = tmp.join("lib/modules").join(release);
    std::fs::create_dir_all(&tree).with_context(|| format!("creating {}", tree.display()))?;
    copy_tree(modules, &tree)?;
    let out = Command::new("depmod")
        .arg("-b")
        .arg(&tmp)
        .arg(release)
        .output()
        .context("running depmod")?;
    if !out.status.success() {
        bail!("depmod -b {} {release}: {}", tmp.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    // vng boots this name: a hard link costs nothing (a copy where the cache spans two
    // file systems).
    let link = tmp.join(image_name(image));
    if std::fs::hard_link(image, &link).is_err() {
        std::fs::copy(image, &link).with_context(|| format!("copying {}", image.display()))?;
    }
    std::fs::write(tmp.join(STAMP), stamp)?;
    if std::fs::read_to_string(base.join(STAMP)).ok().as_deref() == Some(stamp) {
        // another run put the same copy in place meanwhile
        let _ = std::fs::remove_dir_all(&tmp);
        return Ok(());
    }
    // A stale copy goes first; a guest still reading it keeps its open files.
    let _ = std::fs::remove_dir_all(base);
    if std::fs::rename(&tmp, base).is_err() {
        // another run renamed its copy first: use that one
        let _ = std::fs::remove_dir_all(&tmp);
        if !base.join(STAMP).is_file() {
            bail!("could not move {} to {}", tmp.display(), base.display());
        }
    }
    Ok(())
}

/// Modules vng loads that no harness boot uses: virtio_mmio is for vng's `microvm` machine,
/// which vng picks only with virtiofs (`can_use_microvm()`); the harness forces 9p, so the
/// guest is a PC with virtio over PCI.
const UNUSED: &[&str] = &["virtio_mmio.ko.xz"];

/// Copies `from` into `to` (without [`UNUSED`]), `NAME.ko.xz` decompressed to `NAME.ko`; depmod's indexes are
/// left out (rebuilt over the copy), its inputs (`modules.order`, `modules.builtin*`) kept.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let src = entry.path();
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(to.join(&*name))?;
            copy_tree(&src, &to.join(&*name))?;
        } else if UNUSED.contains(&&*name) {
            continue;
        } else if let Some(stem) = name.strip_suffix(".xz") {
            let mut input = xz2::read::XzDecoder::new(std::fs::File::open(&src)?);
            let mut output = std::fs::File::create(to.join(stem))?;
            std::io::copy(&mut input, &mut output).with_context(|| format!("decompressing {}", src.display()))?;
        } else if depmod_input(&name) {
            std::fs::copy(&src, to.join(&*name))?;
        }
    }
    Ok(())
}

fn depmod_input(name: &str) -> bool {
    !name.starts_with("modules.") || ["modules.order", "modules.builtin", "modules.builtin.modinfo"].contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A cached kernel (its `kernel.json`), if this machine has one: the kernel cache is not
    /// part of a fresh checkout, so the test below checks nothing without it.
    fn cached_kernel() -> Option<Kernel> {
        let cache = match std::env::var_os("MAPCONFORM_CACHE") {
            Some(c) => PathBuf::from(c),
            None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/mapconform"),
        };
        ["6.12", "6.1", "5.10", "7.2", "7.3"].iter().find_map(|id| {
            let dir = cache.join("kernels").join(id);
            let record: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("kernel.json")).ok()?).ok()?;
            Some(Kernel {
                id: id.to_string(),
                release: Some(record["release"].as_str()?.to_string()),
                version: None,
                boot_image: dir.join(record["vmlinux"].as_str()?),
                modules: Some(dir.join(record["modules"].as_str()?)),
            })
        })
    }

    #[test]
    fn decompressed_tree_has_plain_modules_and_a_fresh_modules_dep() {
        let Some(kernel) = cached_kernel() else { return };
        let dir = tempfile::tempdir().unwrap();
        let k = decompressed(dir.path(), &kernel).unwrap();
        let tree = k.modules.clone().unwrap();
        assert!(k.boot_image.is_file());
        assert_eq!(std::fs::metadata(&k.boot_image).unwrap().len(), std::fs::metadata(&kernel.boot_image).unwrap().len());
        let dep = std::fs::read_to_string(tree.join("modules.dep")).unwrap();
        assert!(dep.contains(".ko:") && !dep.contains(".xz") && !dep.contains("virtio_mmio"), "{dep}");
        for line in dep.lines() {
            let module = tree.join(line.split(':').next().unwrap());
            let head = std::fs::read(&module).unwrap();
            assert_eq!(&head[..4], b"\x7fELF", "{} is not an ELF object", module.display());
        }
        // the folder vng derives from the image is the one holding the tree
        assert_eq!(tree.parent().unwrap().parent().unwrap().parent().unwrap(), k.boot_image.parent().unwrap());
        // a second call reuses the copy
        let before = std::fs::metadata(tree.join("modules.dep")).unwrap().modified().unwrap();
        let again = decompressed(dir.path(), &kernel).unwrap();
        assert_eq!(again, k);
        assert_eq!(std::fs::metadata(tree.join("modules.dep")).unwrap().modified().unwrap(), before);
    }
}
