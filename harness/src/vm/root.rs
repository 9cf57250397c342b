//! The guest's minimal root file system.
//!
//! With the host's root (vng's default) the guest's init runs the host's udev coldplug and
//! settle, tmpfiles and the rest of its userland: 8–10 s of guest time under TCG before the
//! command starts. mapconform's guest needs a shell, `mount`, its own binary and that
//! binary's shared libraries, so it boots with `vng --root` pointed at a folder holding
//! only those (busybox, the libraries `ldd` names), plus empty mount points where vng
//! shares the rest read-only by `--rodir`: the binary's folder and the kernel's module tree.
//! The cases travel as one file in the rwdir (the matrix layer's case bundle). The guest
//! command starts at ~3.7 s of guest uptime instead of 8–10 s (measured on 6.12, TCG).
//!
//! The folder lives in the kernel cache and is shared by every kernel and every run: each
//! file is written to a temporary name and renamed, so concurrent runs never see half a
//! file, and a guest that has a file open keeps reading the old one.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The minimal root's folder in the kernel cache.
pub const CACHE_DIR: &str = "guest-root";

/// Where the shared folders appear in a minimal-root guest.
pub const GUEST_BIN: &str = "/mapconform/bin";
pub const GUEST_OUT: &str = "/mapconform/out";
pub const GUEST_MODULES: &str = "/lib/modules";

/// Mount points vng needs in the root (a read-only 9p root cannot grow them at boot).
const DIRS: &[&str] = &[
    "bin",
    "sbin",
    "usr/bin",
    "usr/sbin",
    "etc",
    "proc",
    "sys",
    "dev",
    "tmp",
    "run",
    "var",
    "root",
    "lib/modules",
    "mapconform/bin",
    "mapconform/out",
];

/// The busybox that provides the guest's shell and tools: Debian's `busybox-static`, so it
/// needs no library of its own.
const BUSYBOX: &str = "/bin/busybox";

/// Creates or refreshes the minimal root in `dir` for running `exe` (a dynamically or
/// statically linked binary of this host). Cheap when it is already there (a few MB copied).
pub fn prepare(dir: &Path, exe: &Path) -> Result<PathBuf> {
    for d in DIRS {
        std::fs::create_dir_all(dir.join(d)).with_context(|| format!("creating {}", dir.join(d).display()))?;
    }
    let busybox = Path::new(BUSYBOX);
    if !busybox.is_file() {
        bail!("{BUSYBOX} not found: install Debian's busybox-static (scripts/run setup does)");
    }
    install_file(busybox, &dir.join("bin/busybox"))?;
    for applet in busybox_applets(busybox)? {
        let link = dir.join("bin").join(&applet);
        if std::fs::symlink_metadata(&link).is_err() {
            replace_symlink("busybox", &link)?;
        }
    }
    for lib in shared_libraries(exe)? {
        let rel = lib.strip_prefix("/").unwrap_or(&lib);
        let dst = dir.join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        install_file(&lib, &dst)?;
    }
    Ok(dir.to_path_buf())
}

/// Boots `req` on the minimal root `root` (from [`prepare`]) with `exe`'s folder shared at
/// [`GUEST_BIN`] and the kernel's module tree, decompressed ([`super::modules`]), at
/// [`GUEST_MODULES`]. Returns where the guest
/// sees `exe`. A kernel tree keeps the host's root (vng finds its modules only there) and
/// gets `exe` itself back.
pub fn attach(req: &mut super::BootRequest, root: &Path, exe: &Path) -> Result<PathBuf> {
    if req.kernel.boot_image.is_dir() {
        return Ok(exe.to_path_buf());
    }
    let exe = std::path::absolute(exe)?;
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        bail!("{} is not a file path", exe.display());
    };
    req.root = Some(root.to_path_buf());
    req.rodirs.push((GUEST_BIN.into(), dir.to_path_buf()));
    // the decompressed copy of the module tree, beside this root in the cache
    let modules_cache = root.parent().unwrap_or(root).join(super::modules::CACHE_DIR);
    // (without it the boot still works, only slower: say so and go on)
    match super::modules::decompressed(&modules_cache, &req.kernel) {
        Ok(kernel) => req.kernel = kernel,
        Err(e) => eprintln!("note: booting {} with its compressed modules: {e:#}", req.kernel.id),
    }
    if let Some(modules) = req.kernel.modules.as_ref().and_then(|m| m.parent()) {
        req.rodirs.push((GUEST_MODULES.into(), modules.to_path_buf()));
    }
    Ok(Path::new(GUEST_BIN).join(name))
}

/// Copies `src` to `dst` through a temporary name and a rename (atomic for readers).
fn install_file(src: &Path, dst: &Path) -> Result<()> {
    if let (Ok(a), Ok(b)) = (std::fs::metadata(src), std::fs::metadata(dst)) {
        if a.len() == b.len() && a.modified().ok() == b.modified().ok() {
            return Ok(());
        }
    }
    let tmp = dst.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::copy(src, &tmp).with_context(|| format!("copying {} to {}", src.display(), tmp.display()))?;
    // keep the source's mtime, so the next run sees the copy as current
    if let Ok(mtime) = std::fs::metadata(src).and_then(|m| m.modified()) {
        let f = std::fs::File::options().write(true).open(&tmp)?;
        f.set_modified(mtime)?;
    }
    std::fs::rename(&tmp, dst).with_context(|| format!("renaming {} to {}", tmp.display(), dst.display()))?;
    Ok(())
}

fn replace_symlink(target: &str, link: &Path) -> Result<()> {
    let tmp = link.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)?;
    Ok(())
}

fn busybox_applets(busybox: &Path) -> Result<Vec<String>> {
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("running {} --list", busybox.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .map(String::from)
        .collect())
}

/// The shared libraries (and the dynamic loader) `exe` needs, as absolute host paths,
/// from `ldd`. A static binary needs none.
pub fn shared_libraries(exe: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(exe)
        .output()
        .with_context(|| format!("running ldd {}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "not a dynamic executable"
        return Ok(vec![]);
    }
    Ok(parse_ldd(&text))
}

/// `ldd` lines: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)`, `/lib64/ld-linux-x86-64.so.2 (0x…)`,
/// `linux-vdso.so.1 (0x…)` (in the kernel: skipped).
fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_library_paths() {
        let text = "\tlinux-vdso.so.1 (0x00007ffc)\n\
                    \tliblzma.so.5 => /lib/x86_64-linux-gnu/liblzma.so.5 (0x00007f)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/liblzma.so.5"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    #[test]
    fn prepared_root_runs_this_test_binary_s_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let root = prepare(dir.path(), &exe).unwrap();
        assert!(root.join("bin/busybox").is_file());
        assert_eq!(std::fs::read_link(root.join("bin/sh")).unwrap(), Path::new("busybox"));
        for lib in shared_libraries(&exe).unwrap() {
            assert!(
                root.join(lib.strip_prefix("/").unwrap()).is_file(),
                "{} missing",
                lib.display()
            );
        }
        for d in DIRS {
            assert!(root.join(d).is_dir(), "{d} missing");
        }
        // a second run over the same folder is a no-op that still succeeds
        prepare(dir.path(), &exe).unwrap();
    }
}
