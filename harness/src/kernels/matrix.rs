//! `kernels/matrix.yaml`: which kernels the suite runs on and where they come from.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::Kernel;

/// How a Debian kernel series is split into packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Packaging {
    /// `linux-image-<kver>[-unsigned]` holds image, config and modules (up to 6.x).
    Classic,
    /// 7.x: `linux-binary[-unsigned]-<kver>` + `linux-modules-<kver>` + `linux-base-<kver>`.
    Split,
}

/// One kernel of the matrix: a Debian kernel series (`suites`, `meta`, `packaging`), or a
/// kernel of your own (`path`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixEntry {
    /// Series id that users type, e.g. `6.12`.
    pub id: String,
    /// Debian suites to resolve from; the highest version among them wins.
    #[serde(default)]
    pub suites: Vec<String>,
    /// Metapackage naming the versioned image package, e.g. `linux-image-amd64`.
    #[serde(default)]
    pub meta: String,
    /// Required for a Debian entry ([`Matrix::parse`] checks).
    #[serde(default)]
    pub packaging: Option<Packaging>,
    /// A local bzImage, vmlinux or built kernel tree, booted as it is (never fetched):
    /// absolute, `~/…`, or relative to the matrix file's folder.
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub note: String,
}

/// The whole matrix file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Module names/aliases a guest boot needs (their dependency closure is kept). Only
    /// Debian entries use them, so a file of local kernels may leave them out.
    #[serde(default)]
    pub guest_modules: Vec<String>,
    pub kernels: Vec<MatrixEntry>,
    /// The file this matrix was read from (`path:` entries are relative to its folder).
    #[serde(skip)]
    pub origin: PathBuf,
}

impl Matrix {
    /// Parses matrix YAML; `origin` names the source in error messages (`file:line:col`).
    pub fn parse(yaml: &str, origin: &str) -> Result<Matrix> {
        let m: Matrix = serde_saphyr::from_str(yaml).map_err(|e| {
            let loc = match e.location() {
                Some(l) => format!("{origin}:{}:{}", l.line(), l.column()),
                None => origin.to_string(),
            };
            anyhow::anyhow!("{loc}: invalid kernel matrix: {e}")
        })?;
        m.validate()
            .with_context(|| format!("{origin}: invalid kernel matrix"))?;
        Ok(Matrix {
            origin: PathBuf::from(origin),
            ..m
        })
    }

    /// Reads and parses a matrix file.
    pub fn load(path: &Path) -> Result<Matrix> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading kernel matrix {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The matrix of this repository (`<repo>/kernels/matrix.yaml`), or `$MAPCONFORM_MATRIX`.
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("MAPCONFORM_MATRIX") {
            return PathBuf::from(p);
        }
        crate::kernels::repo_root().join("kernels/matrix.yaml")
    }

    fn validate(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for k in &self.kernels {
            if k.id.is_empty() || k.id.contains(['/', ' ']) || k.id.starts_with('.') {
                bail!("kernel id {:?} is not a valid series id", k.id);
            }
            if !seen.insert(&k.id) {
                bail!("kernel id {:?} appears twice", k.id);
            }
            let debian = !k.suites.is_empty() || !k.meta.is_empty() || k.packaging.is_some();
            match &k.path {
                Some(_) if debian => bail!(
                    "kernel {:?} has a `path` and Debian fields (suites, meta, packaging): give one or the other",
                    k.id
                ),
                Some(p) if p.as_os_str().is_empty() => bail!("kernel {:?} has an empty `path`", k.id),
                Some(_) => {}
                None if k.suites.is_empty() => bail!("kernel {:?} has no suites (nor a `path`)", k.id),
                None if k.meta.is_empty() || k.packaging.is_none() => {
                    bail!("kernel {:?} needs `meta` and `packaging` with its suites", k.id)
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The kernel of a `path:` entry, with the entry's id (`None`: a Debian entry, which
    /// comes from the cache). A path that is not a kernel is an error naming this matrix
    /// file and the entry.
    pub fn local_kernel(&self, entry: &MatrixEntry) -> Option<Result<Kernel>> {
        let path = entry.path.as_ref()?;
        let path = match path.strip_prefix("~") {
            Ok(rest) => dirs::home_dir().unwrap_or_default().join(rest),
            Err(_) => self.origin.parent().unwrap_or(Path::new("")).join(path),
        };
        Some(
            Kernel::from_path(&path)
                .map(|k| Kernel {
                    id: entry.id.clone(),
                    ..k
                })
                .with_context(|| format!("{}: kernel {:?}", self.origin.display(), entry.id)),
        )
    }

    /// Looks up an entry by id.
    pub fn get(&self, id: &str) -> Option<&MatrixEntry> {
        self.kernels.iter().find(|k| k.id == id)
    }

    /// Entries for `ids` (all of them when `ids` is empty); unknown ids are an error
    /// naming the known ones.
    pub fn select(&self, ids: &[String]) -> Result<Vec<&MatrixEntry>> {
        if ids.is_empty() {
            return Ok(self.kernels.iter().collect());
        }
        ids.iter()
            .map(|id| {
                self.get(id).ok_or_else(|| {
                    let known: Vec<_> = self.kernels.iter().map(|k| k.id.as_str()).collect();
                    anyhow::anyhow!("unknown kernel id {id:?} (the matrix has: {})", known.join(", "))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
guest_modules: [fs-9p, overlay]
kernels:
  - id: "6.1"
    suites: [bookworm, bookworm-security]
    meta: linux-image-amd64
    packaging: classic
    note: hello
  - id: "7.2"
    suites: [sid]
    meta: linux-image-amd64
    packaging: split
"#;

    #[test]
    fn parses_good_matrix() {
        let m = Matrix::parse(GOOD, "m.yaml").unwrap();
        assert_eq!(m.kernels.len(), 2);
        assert_eq!(m.kernels[0].suites, ["bookworm", "bookworm-security"]);
        assert_eq!(m.kernels[1].packaging, Some(Packaging::Split));
        assert_eq!(m.kernels[1].note, "");
        assert_eq!(m.select(&["7.2".into()]).unwrap()[0].id, "7.2");
        let err = m.select(&["9.9".into()]).unwrap_err().to_string();
        assert!(err.contains("9.9") && err.contains("6.1, 7.2"), "{err}");
    }

    #[test]
    fn malformed_matrix_names_file_line_col() {
        // line 6: `packaging` has a value that is not one of the variants
        let bad = "guest_modules: []\nkernels:\n  - id: \"6.1\"\n    suites: [bookworm]\n    meta: linux-image-amd64\n    packaging: zipped\n";
        let err = Matrix::parse(bad, "kernels/matrix.yaml").unwrap_err().to_string();
        assert!(err.starts_with("kernels/matrix.yaml:6:"), "{err}");
        assert!(err.contains("classic") || err.contains("variant"), "{err}");
    }

    #[test]
    fn shipped_matrix_parses() {
        let m = Matrix::load(&crate::kernels::repo_root().join("kernels/matrix.yaml")).unwrap();
        let ids: Vec<_> = m.kernels.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["5.10", "6.1", "6.12", "7.2", "7.3"]);
    }

    #[test]
    fn a_path_entry_boots_a_local_kernel_under_its_own_id() {
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("linux/arch/x86/boot");
        std::fs::create_dir_all(&boot).unwrap();
        // the smallest file Kernel::from_path takes for a vmlinux: an ELF header
        std::fs::write(boot.join("vmlinux"), b"\x7fELF\x02\x01\x01").unwrap();
        let file = dir.path().join("mine.yaml");
        let yaml = "kernels:\n  - id: mine\n    path: linux/arch/x86/boot/vmlinux\n    note: my tree\n";
        std::fs::write(&file, yaml).unwrap();
        let m = Matrix::load(&file).unwrap();
        assert!(m.guest_modules.is_empty());
        let entry = m.get("mine").unwrap();
        let kernel = m.local_kernel(entry).unwrap().unwrap();
        assert_eq!(kernel.id, "mine");
        assert_eq!(kernel.boot_image, boot.join("vmlinux").canonicalize().unwrap());
        // a Debian entry is not local
        let debian = Matrix::parse(GOOD, "m.yaml").unwrap();
        assert!(debian.local_kernel(&debian.kernels[0]).is_none());
    }

    #[test]
    fn a_missing_path_names_the_file_and_the_entry() {
        let m = Matrix::parse(
            "kernels:\n  - id: mine\n    path: /nonexistent/bzImage\n",
            "kernels/mine.yaml",
        )
        .unwrap();
        let err = format!("{:#}", m.local_kernel(&m.kernels[0]).unwrap().unwrap_err());
        assert!(
            err.starts_with("kernels/mine.yaml: kernel \"mine\": ") && err.contains("/nonexistent/bzImage"),
            "{err}"
        );
    }

    #[test]
    fn an_entry_is_debian_or_local_not_both() {
        let both = "kernels:\n  - id: x\n    path: /b\n    suites: [sid]\n";
        let err = format!("{:#}", Matrix::parse(both, "m.yaml").unwrap_err());
        assert!(
            err.contains("m.yaml") && err.contains("\"x\" has a `path` and Debian fields"),
            "{err}"
        );
        let neither = "kernels:\n  - id: x\n    note: hi\n";
        let err = format!("{:#}", Matrix::parse(neither, "m.yaml").unwrap_err());
        assert!(err.contains("no suites (nor a `path`)"), "{err}");
        let no_meta = "kernels:\n  - id: x\n    suites: [sid]\n";
        let err = format!("{:#}", Matrix::parse(no_meta, "m.yaml").unwrap_err());
        assert!(err.contains("needs `meta` and `packaging`"), "{err}");
    }

    #[test]
    fn duplicate_id_rejected() {
        let dup = GOOD.replace("\"7.2\"", "\"6.1\"");
        let err = format!("{:#}", Matrix::parse(&dup, "m.yaml").unwrap_err());
        assert!(err.contains("appears twice"), "{err}");
    }
}
