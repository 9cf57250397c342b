//! `kernels/matrix.yaml`: which kernels the suite runs on and where they come from.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// How a Debian kernel series is split into packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Packaging {
    /// `linux-image-<kver>[-unsigned]` holds image, config and modules (up to 6.x).
    Classic,
    /// 7.x: `linux-binary[-unsigned]-<kver>` + `linux-modules-<kver>` + `linux-base-<kver>`.
    Split,
}

/// One kernel series of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixEntry {
    /// Series id that users type, e.g. `6.12`.
    pub id: String,
    /// Debian suites to resolve from; the highest version among them wins.
    pub suites: Vec<String>,
    /// Metapackage naming the versioned image package, e.g. `linux-image-amd64`.
    pub meta: String,
    pub packaging: Packaging,
    #[serde(default)]
    pub note: String,
}

/// The whole matrix file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Module names/aliases a guest boot needs (their dependency closure is kept).
    pub guest_modules: Vec<String>,
    pub kernels: Vec<MatrixEntry>,
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
        Ok(m)
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
            if k.suites.is_empty() {
                bail!("kernel {:?} has no suites", k.id);
            }
        }
        Ok(())
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
        assert_eq!(m.kernels[1].packaging, Packaging::Split);
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
    fn duplicate_id_rejected() {
        let dup = GOOD.replace("\"7.2\"", "\"6.1\"");
        let err = format!("{:#}", Matrix::parse(&dup, "m.yaml").unwrap_err());
        assert!(err.contains("appears twice"), "{err}");
    }
}
