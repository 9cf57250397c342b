//! vng's kernel version lookup, made cheap.
//!
//! virtme-ng 1.42 finds the version of the kernel it boots in `get_kernel_version()`
//! (virtme/commands/run.py): `file IMAGE` first, which names the version of a bzImage but
//! not of an uncompressed vmlinux (what the harness boots, for QEMU's PVH entry), and then
//! `strings IMAGE` over the whole 60 MB file, matched against `Linux version (\S{3,})`:
//! 0.3 s on a quiet host, 1-2 s on a loaded one, before QEMU starts. It has no option or
//! argument that gives the version instead (`--kimg VERSION` only looks in the host's
//! /usr/lib/modules and /boot).
//!
//! So vng's PATH starts with a folder holding a `strings` of our own: for the one image
//! whose release the harness already knows (`$MAPCONFORM_KERNEL_IMAGE`, resolved as vng
//! resolves it, and `$MAPCONFORM_KERNEL_RELEASE`) it prints the line vng looks for; for
//! anything else it runs the real `strings`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The environment that makes the shim answer for `image` (vng resolves symlinks first).
pub fn env(image: &Path, release: &str) -> Vec<(&'static str, String)> {
    let image = std::fs::canonicalize(image).unwrap_or_else(|_| image.to_path_buf());
    vec![
        ("MAPCONFORM_KERNEL_IMAGE", image.display().to_string()),
        ("MAPCONFORM_KERNEL_RELEASE", release.to_string()),
    ]
}

/// The shim's text; `real`: the `strings` it stands in front of, if there is one.
fn script(real: Option<&Path>) -> String {
    let fallback = match real {
        Some(real) => format!("exec {} \"$@\"", shell_words::quote(&real.display().to_string())),
        None => "echo 'strings: not found' >&2; exit 127".to_string(),
    };
    format!(
        "#!/bin/sh\n\
         # mapconform (harness/src/vm/version_shim.rs): vng's kernel version lookup without\n\
         # reading the whole image.\n\
         if [ \"$#\" = 1 ] && [ -n \"$MAPCONFORM_KERNEL_RELEASE\" ] && [ \"$1\" = \"$MAPCONFORM_KERNEL_IMAGE\" ]; then\n\
         \x20 echo \"Linux version $MAPCONFORM_KERNEL_RELEASE\"\n\
         \x20 exit 0\n\
         fi\n\
         {fallback}\n"
    )
}

/// The folder holding the shim (in the temporary directory, per user), written if missing
/// or stale; through a temporary name and a rename, as concurrent runs may share it.
pub fn dir(path: Option<&std::ffi::OsStr>) -> Result<PathBuf> {
    // SAFETY: getuid has no preconditions.
    let dir = std::env::temp_dir().join(format!("mapconform-vng-shim-{}", unsafe { libc::getuid() }));
    let real = path.and_then(|p| {
        std::env::split_paths(p)
            .filter(|d| *d != dir)
            .map(|d| d.join("strings"))
            .find(|f| f.is_file())
    });
    let text = script(real.as_deref());
    let shim = dir.join("strings");
    if std::fs::read_to_string(&shim).ok().as_deref() != Some(text.as_str()) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!("strings.tmp-{}", std::process::id()));
        std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &shim).with_context(|| format!("renaming {}", tmp.display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn shim_output(dir: &Path, arg: &Path, env: &[(&str, String)]) -> String {
        let out = Command::new(dir.join("strings"))
            .arg(arg)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("the shim runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn answers_for_the_known_image_only() {
        let d = tempfile::tempdir().unwrap();
        let image = d.path().join("vmlinux");
        std::fs::write(&image, b"\x7fELF junk Linux version 9.9.9-test (someone) #1\0").unwrap();
        let dir = super::dir(std::env::var_os("PATH").as_deref()).unwrap();
        let env = env(&image, "9.9.9-test");
        assert_eq!(shim_output(&dir, &image, &env), "Linux version 9.9.9-test\n");
        // another file: the real strings, which finds the same line in the file itself
        let other = d.path().join("other");
        std::fs::write(&other, b"\0\0Linux version 1.2.3-other (x)\0\0").unwrap();
        assert_eq!(shim_output(&dir, &other, &env), "Linux version 1.2.3-other (x)\n");
        // no known release: the real strings too
        assert!(shim_output(&dir, &image, &[]).contains("Linux version 9.9.9-test (someone) #1"));
    }
}
