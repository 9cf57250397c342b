//! apt with a private state directory: resolves and downloads kernel packages from suites the
//! system is not configured for, without touching the system's apt state.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const CODENAMES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "stable",
    "testing",
    "unstable",
    "oldstable",
    "oldoldstable",
];

/// One `deb` source of an apt configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suites: Vec<String>,
}

/// The Debian mirror URIs to fetch from: the main archive and the security archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirrors {
    pub main: String,
    pub security: String,
}

/// Parses one-line-style `sources.list` text (`deb [opts] URI SUITE COMP…`).
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut rest = match line.strip_prefix("deb ").or_else(|| line.strip_prefix("deb\t")) {
            Some(r) => r.trim_start(),
            None => continue,
        };
        if rest.starts_with('[') {
            match rest.find(']') {
                Some(i) => rest = rest[i + 1..].trim_start(),
                None => continue,
            }
        }
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            out.push(AptSource {
                uri: uri.to_string(),
                suites: vec![suite.to_string()],
            });
        }
    }
    out
}

/// Parses deb822-style `.sources` text (stanzas of `Types:`, `URIs:`, `Suites:` …).
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let (mut types, mut uris, mut suites, mut enabled) = (vec![], vec![], vec![], true);
        let mut last_key = String::new();
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (key, val) = if line.starts_with([' ', '\t']) {
                (last_key.clone(), line.trim())
            } else if let Some((k, v)) = line.split_once(':') {
                last_key = k.trim().to_ascii_lowercase();
                (last_key.clone(), v.trim())
            } else {
                continue;
            };
            let words = val.split_whitespace().map(str::to_string);
            match key.as_str() {
                "types" => types.extend(words),
                "uris" => uris.extend(words),
                "suites" => suites.extend(words),
                "enabled" => enabled = !val.eq_ignore_ascii_case("no"),
                _ => {}
            }
        }
        if enabled && types.iter().any(|t| t == "deb") {
            for uri in uris {
                out.push(AptSource {
                    uri,
                    suites: suites.clone(),
                });
            }
        }
    }
    out
}

/// Picks the Debian main and security mirrors from a machine's sources.
pub fn pick_mirrors(sources: &[AptSource]) -> Option<Mirrors> {
    let is_debian = |s: &str| {
        let (code, pocket) = s.split_once('-').unwrap_or((s, ""));
        CODENAMES.contains(&code) && ["", "updates", "backports", "security", "proposed-updates"].contains(&pocket)
    };
    let main = sources
        .iter()
        .find(|s| s.suites.iter().any(|x| is_debian(x) && !x.ends_with("-security")))?
        .uri
        .trim_end_matches('/')
        .to_string();
    let security = sources
        .iter()
        .find(|s| s.suites.iter().any(|x| is_debian(x) && x.ends_with("-security")))
        .map(|s| s.uri.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("{main}-security"));
    Some(Mirrors { main, security })
}

/// Reads the mirror URIs from this machine's apt sources (or `$MAPCONFORM_DEBIAN_MIRROR`).
pub fn system_mirrors() -> Result<Mirrors> {
    if let Ok(m) = std::env::var("MAPCONFORM_DEBIAN_MIRROR") {
        let main = m.trim_end_matches('/').to_string();
        let security =
            std::env::var("MAPCONFORM_DEBIAN_SECURITY_MIRROR").unwrap_or_else(|_| format!("{main}-security"));
        return Ok(Mirrors { main, security });
    }
    let mut sources = Vec::new();
    let etc = Path::new("/etc/apt");
    if let Ok(t) = std::fs::read_to_string(etc.join("sources.list")) {
        sources.extend(parse_one_line(&t));
    }
    let mut parts: Vec<_> = std::fs::read_dir(etc.join("sources.list.d"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    parts.sort();
    for p in parts {
        let Ok(t) = std::fs::read_to_string(&p) else { continue };
        match p.extension().and_then(|e| e.to_str()) {
            Some("list") => sources.extend(parse_one_line(&t)),
            Some("sources") => sources.extend(parse_deb822(&t)),
            _ => {}
        }
    }
    pick_mirrors(&sources).context(
        "no Debian mirror found in /etc/apt/sources.list{,.d/*}: set MAPCONFORM_DEBIAN_MIRROR to a Debian archive URI",
    )
}

/// An apt configuration of its own (sources, lists, cache) under `dir`.
pub struct AptState {
    pub dir: PathBuf,
}

impl AptState {
    /// Prepares `dir` with a sources.list for `suites` of `mirrors`.
    pub fn new(dir: &Path, mirrors: &Mirrors, suites: &[String]) -> Result<AptState> {
        for sub in ["lists/partial", "cache/archives/partial", "empty"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let mut list = String::new();
        for s in suites {
            let uri = if s.ends_with("-security") {
                &mirrors.security
            } else {
                &mirrors.main
            };
            list.push_str(&format!("deb [signed-by={KEYRING}] {uri} {s} main\n"));
        }
        std::fs::write(dir.join("sources.list"), list)?;
        Ok(AptState { dir: dir.to_path_buf() })
    }

    fn opts(&self) -> Vec<String> {
        let d = self.dir.display();
        [
            format!("Dir::Etc::SourceList={d}/sources.list"),
            format!("Dir::Etc::SourceParts={d}/empty"),
            format!("Dir::Etc::Preferences={d}/empty/none"),
            format!("Dir::Etc::PreferencesParts={d}/empty"),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::Cache={d}/cache"),
            "Dir::State::Status=/dev/null".into(),
            "APT::Architecture=amd64".into(),
            "APT::Architectures=amd64".into(),
            "Acquire::Languages=none".into(),
            "Acquire::GzipIndexes=true".into(),
            "APT::Sandbox::User=root".into(),
        ]
        .into_iter()
        .flat_map(|o| ["-o".to_string(), o])
        .collect()
    }

    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.args(self.opts())
            .env("LC_ALL", "C")
            .env("DEBIAN_FRONTEND", "noninteractive");
        c
    }

    fn output(&self, prog: &str, args: &[&str]) -> Result<String> {
        let out = self
            .cmd(prog)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {prog}"))?;
        if !out.status.success() {
            bail!(
                "{prog} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `apt-get update` (quiet; apt's errors are returned).
    pub fn update(&self) -> Result<()> {
        let out = self
            .cmd("apt-get")
            .args(["-q", "update"])
            .stdin(Stdio::null())
            .output()
            .context("running apt-get")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // apt-get update exits 0 on some fetch failures; its "E:"/"W: Failed" lines tell.
        let errors: Vec<_> = stderr
            .lines()
            .filter(|l| l.starts_with("E:") || l.contains("Failed to fetch"))
            .collect();
        if !out.status.success() || !errors.is_empty() {
            bail!(
                "apt-get update: {}",
                if errors.is_empty() {
                    stderr.trim().to_string()
                } else {
                    errors.join("; ")
                }
            );
        }
        Ok(())
    }

    /// The candidate version of `pkg`, if apt knows the package.
    pub fn candidate(&self, pkg: &str) -> Result<Option<String>> {
        let out = self.output("apt-cache", &["policy", pkg])?;
        Ok(out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate:"))
            .map(|v| v.trim().to_string())
            .filter(|v| v != "(none)"))
    }

    /// The control fields of `pkg` at `version`, or None if there is no such version.
    pub fn show(&self, pkg: &str, version: &str) -> Result<Option<Vec<(String, String)>>> {
        let out = self
            .cmd("apt-cache")
            .args(["show", &format!("{pkg}={version}")])
            .output()?;
        if !out.status.success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let stanza = text.split("\n\n").next().unwrap_or("");
        Ok(Some(
            stanza
                .lines()
                .filter(|l| !l.starts_with(' '))
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect(),
        ))
    }

    /// Downloads `pkg=version` for each pair into `dest`, showing apt's progress on the
    /// terminal. Returns the .deb files.
    pub fn download(&self, pkgs: &[(String, String)], dest: &Path) -> Result<Vec<PathBuf>> {
        let specs: Vec<String> = pkgs.iter().map(|(p, v)| format!("{p}={v}")).collect();
        let out = self
            .cmd("apt-get")
            .arg("download")
            .args(&specs)
            .current_dir(dest)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("running apt-get download")?
            .wait_with_output()?;
        if !out.status.success() {
            bail!(
                "apt-get download {}: {}",
                specs.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let mut debs: Vec<PathBuf> = std::fs::read_dir(dest)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "deb"))
            .collect();
        debs.sort();
        if debs.len() != pkgs.len() {
            bail!(
                "apt-get download produced {} .deb files for {} packages",
                debs.len(),
                pkgs.len()
            );
        }
        Ok(debs)
    }
}

/// Package names in a `Depends:` value (alternatives and version constraints dropped).
pub fn depends_names(depends: &str) -> Vec<String> {
    depends
        .split([',', '|'])
        .filter_map(|d| d.split_whitespace().next())
        .map(|n| n.split(':').next().unwrap_or(n).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_sources() {
        let text = "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb deb-src\nURIs: http://mirror.example/debian-security/\nSuites: bookworm-security\nComponents: main\n\nTypes: deb-src\nURIs: http://src.example/\nSuites: bookworm\n\nTypes: deb\nEnabled: no\nURIs: http://off.example/\nSuites: bookworm\n";
        let s = parse_deb822(text);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].suites, ["bookworm", "bookworm-updates"]);
        let m = pick_mirrors(&s).unwrap();
        assert_eq!(m.main, "http://mirror.example/debian");
        assert_eq!(m.security, "http://mirror.example/debian-security");
    }

    #[test]
    fn one_line_sources() {
        let text = "# comment\ndeb-src http://src.example/debian bookworm main\n\
            deb [arch=amd64 signed-by=/k.gpg] http://third.example/repo stable-extra main\n\
            deb http://mirror.example/debian/ bookworm main contrib # trailing\n";
        let s = parse_one_line(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].uri, "http://third.example/repo");
        let m = pick_mirrors(&s).unwrap();
        // "stable-extra" is not a Debian suite, "bookworm" is; no security entry → derived
        assert_eq!(m.main, "http://mirror.example/debian");
        assert_eq!(m.security, "http://mirror.example/debian-security");
        assert!(pick_mirrors(&parse_one_line("deb http://x.example/ jammy main")).is_none());
    }

    #[test]
    fn depends_parsing() {
        assert_eq!(
            depends_names("linux-base-amd64 (= 7.3.4-1~bpo13+1), dracut | initramfs-tools (>= 0.120), kmod:any"),
            ["linux-base-amd64", "dracut", "initramfs-tools", "kmod"]
        );
    }
}
