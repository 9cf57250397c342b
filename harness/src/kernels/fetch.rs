//! Fetching matrix kernels: resolve with apt, download, extract, prune, decompress.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::apt::{self, AptState, Mirrors};
use super::cache::{dir_size, Cache, CachedKernel, KernelRecord, PackageRef, RECORD};
use super::matrix::{Matrix, MatrixEntry, Packaging};
use super::vmlinux;
use crate::vm::events::{emit, Events, VmEvent};

/// The exact packages a matrix entry resolves to right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub meta: PackageRef,
    /// Kernel flavour release from the image package name, e.g. `6.12.117+deb13-amd64`.
    pub kver: String,
    pub packages: Vec<PackageRef>,
}

/// What happened to one id.
#[derive(Debug)]
pub enum FetchStatus {
    Fetched(CachedKernel),
    UpToDate(CachedKernel),
    Failed(anyhow::Error),
}

/// Resolves `entry` with an apt state that has been updated for its suites.
pub fn resolve(apt: &AptState, entry: &MatrixEntry) -> Result<Resolution> {
    let version = apt
        .candidate(&entry.meta)?
        .with_context(|| format!("package {} not found in {}", entry.meta, entry.suites.join(", ")))?;
    let fields = apt.show(&entry.meta, &version)?.context("metapackage vanished")?;
    let depends = fields
        .iter()
        .find(|(k, _)| k == "Depends")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let kver = apt::depends_names(depends)
        .into_iter()
        .find_map(|n| n.strip_prefix("linux-image-").map(str::to_string))
        .with_context(|| {
            format!(
                "{}={version} depends on no linux-image-* package ({depends})",
                entry.meta
            )
        })?;
    let first_existing = |names: &[String]| -> Result<PackageRef> {
        for n in names {
            if apt.show(n, &version)?.is_some() {
                return Ok(PackageRef {
                    name: n.clone(),
                    version: version.clone(),
                });
            }
        }
        bail!("none of {} exists at version {version}", names.join(", "))
    };
    let packages = match entry.packaging.context("a Debian entry without `packaging`")? {
        Packaging::Classic => {
            vec![first_existing(&[
                format!("linux-image-{kver}-unsigned"),
                format!("linux-image-{kver}"),
            ])?]
        }
        Packaging::Split => vec![
            first_existing(&[format!("linux-binary-unsigned-{kver}"), format!("linux-binary-{kver}")])?,
            first_existing(&[format!("linux-modules-{kver}")])?,
            first_existing(&[format!("linux-base-{kver}")])?,
        ],
    };
    let upstream = version.split(['-', '~', '+']).next().unwrap_or("");
    if !upstream.starts_with(&format!("{}.", entry.id)) && upstream != entry.id {
        eprintln!(
            "warning: kernel {} resolved to version {version}, outside its series",
            entry.id
        );
    }
    Ok(Resolution {
        meta: PackageRef {
            name: entry.meta.clone(),
            version,
        },
        kver,
        packages,
    })
}

/// Fetches the kernels `ids` (all when empty) of `matrix` into `cache`. Every id is tried,
/// all at once: each has its own apt state and its own folder in the cache, and the time
/// is the network's (a cached matrix is five `apt-get update`s, 20 s one after another).
/// The result says per id what happened, in the matrix's order.
pub fn fetch(
    cache: &Cache,
    matrix: &Matrix,
    ids: &[String],
    force: bool,
    events: Events,
) -> Result<Vec<(String, FetchStatus)>> {
    // `path:` entries are local kernels: nothing to fetch.
    let entries: Vec<_> = matrix.select(ids)?.into_iter().filter(|e| e.path.is_none()).collect();
    let mirrors = apt::system_mirrors()?;
    let statuses: Vec<FetchStatus> = std::thread::scope(|scope| {
        let mirrors = &mirrors;
        let running: Vec<_> = entries
            .iter()
            .map(|entry| scope.spawn(move || fetch_one(cache, matrix, entry, mirrors, force, events)))
            .collect();
        running
            .into_iter()
            .zip(&entries)
            .map(|(thread, entry)| {
                let result = thread
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the fetch of kernel {} panicked", entry.id)));
                result.unwrap_or_else(|e| {
                    let e = e.context(format!("kernel {} (suites {})", entry.id, entry.suites.join(", ")));
                    emit(
                        events,
                        VmEvent::FetchFailed {
                            id: entry.id.clone(),
                            error: format!("{e:#}"),
                        },
                    );
                    FetchStatus::Failed(e)
                })
            })
            .collect()
    });
    Ok(entries.iter().map(|e| e.id.clone()).zip(statuses).collect())
}

/// How long a resolution stands: within it, a cached kernel is taken as up to date without
/// asking the archive again (`scripts/run` resolves before every run; a laptop rerunning
/// the matrix should not wait on five `apt-get update`s each time). `kernels fetch --force`
/// always asks. A fresh machine (CI) has no cache and always resolves.
const RESOLVE_TTL: Duration = Duration::from_secs(3600);

/// Touched in a kernel's apt state folder after each successful resolution.
const RESOLVED_STAMP: &str = "resolved";

fn resolved_recently(stamp: &Path) -> bool {
    std::fs::metadata(stamp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < RESOLVE_TTL)
}

fn fetch_one(
    cache: &Cache,
    matrix: &Matrix,
    entry: &MatrixEntry,
    mirrors: &Mirrors,
    force: bool,
    events: Events,
) -> Result<FetchStatus> {
    let t0 = Instant::now();
    let apt_dir = cache.apt_dir().join(&entry.id);
    let stamp = apt_dir.join(RESOLVED_STAMP);
    if !force {
        if let Some(k) = cache.get(&entry.id)? {
            if resolved_recently(&stamp)
                && k.record.suites == entry.suites
                && k.record.meta.name == entry.meta
                && k.dir.join(&k.record.vmlinux).is_file()
            {
                emit(
                    events,
                    VmEvent::UpToDate {
                        id: entry.id.clone(),
                        version: k.record.meta.version.clone(),
                    },
                );
                return Ok(FetchStatus::UpToDate(k));
            }
        }
    }
    emit(
        events,
        VmEvent::Resolving {
            id: entry.id.clone(),
            suites: entry.suites.clone(),
        },
    );
    let apt = AptState::new(&apt_dir, mirrors, &entry.suites)?;
    apt.update()?;
    let res = resolve(&apt, entry)?;
    // Whatever follows, the archive was asked just now.
    let _ = std::fs::write(&stamp, b"");
    if !force {
        if let Some(k) = cache.get(&entry.id)? {
            if k.record.packages == res.packages && k.dir.join(&k.record.vmlinux).is_file() {
                emit(
                    events,
                    VmEvent::UpToDate {
                        id: entry.id.clone(),
                        version: res.meta.version.clone(),
                    },
                );
                return Ok(FetchStatus::UpToDate(k));
            }
        }
    }
    emit(
        events,
        VmEvent::Fetching {
            id: entry.id.clone(),
            packages: res
                .packages
                .iter()
                .map(|p| format!("{}={}", p.name, p.version))
                .collect(),
        },
    );
    std::fs::create_dir_all(cache.kernels_dir())?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".fetch-{}-", entry.id))
        .tempdir_in(cache.kernels_dir())?;
    let dl = tmp.path().join("debs");
    std::fs::create_dir_all(&dl)?;
    let pkgs: Vec<_> = res
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let debs = apt.download(&pkgs, &dl).with_context(|| {
        format!(
            "downloading {}",
            res.packages
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let download_bytes: u64 = debs.iter().map(|d| dir_size(d)).sum();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root)?;
    for deb in &debs {
        run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root))?;
        std::fs::remove_file(deb)?;
    }
    let new = cache.kernels_dir().join(format!("{}.new", entry.id));
    let _ = std::fs::remove_dir_all(&new);
    std::fs::create_dir_all(&new)?;
    let mut record = assemble(&root, &res.kver, &matrix.guest_modules, &new)?;
    record.id = entry.id.clone();
    record.suites = entry.suites.clone();
    record.meta = res.meta.clone();
    record.packages = res.packages.clone();
    record.download_bytes = download_bytes;
    record.fetch_seconds = t0.elapsed().as_secs_f64();
    record.fetched_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::fs::write(new.join(RECORD), serde_json::to_string_pretty(&record)?)?;
    drop(tmp);
    // swap in the new tree
    let dir = cache.kernel_dir(&entry.id);
    let old = cache.kernels_dir().join(format!("{}.old", entry.id));
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(&dir, &old)?;
    }
    std::fs::rename(&new, &dir)?;
    let _ = std::fs::remove_dir_all(&old);
    let k = cache.get(&entry.id)?.context("kernel vanished after fetch")?;
    emit(
        events,
        VmEvent::Fetched {
            id: entry.id.clone(),
            version: res.meta.version,
            download_bytes,
            cache_bytes: k.size,
            wall: Duration::from_secs_f64(record.fetch_seconds),
        },
    );
    Ok(FetchStatus::Fetched(k))
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Finds the module dir (`[usr/]lib/modules/<rel>`) in an extracted tree; returns the depmod
/// base dir (the one holding `lib/modules`) and the release.
fn find_modules(root: &Path, kver: &str) -> Result<(PathBuf, String)> {
    for base in [root.to_path_buf(), root.join("usr")] {
        let mods = base.join("lib/modules");
        if mods.join(kver).is_dir() {
            return Ok((base, kver.to_string()));
        }
        if let Ok(rd) = std::fs::read_dir(&mods) {
            let rels: Vec<_> = rd.flatten().filter(|e| e.path().is_dir()).collect();
            if rels.len() == 1 {
                return Ok((base, rels[0].file_name().to_string_lossy().into_owned()));
            }
        }
    }
    bail!("no lib/modules/<release> directory in the extracted packages")
}

fn first_file(cands: &[PathBuf]) -> Option<PathBuf> {
    cands.iter().find(|p| p.is_file()).cloned()
}

/// Builds the kept tree in `dest` from the extracted packages in `root`: vmlinux, config,
/// and a pruned `lib/modules/<rel>` holding `modules` plus their dependency closure.
fn assemble(root: &Path, kver: &str, modules: &[String], dest: &Path) -> Result<KernelRecord> {
    let (base, rel) = find_modules(root, kver)?;
    let moddir = base.join("lib/modules").join(&rel);
    let image = first_file(&[
        root.join(format!("boot/vmlinuz-{rel}")),
        moddir.join("vmlinuz"),
        moddir.join("vmlinuz.unsigned"),
    ])
    .context("no kernel image (boot/vmlinuz-*, lib/modules/*/vmlinuz*) in the packages")?;
    let config = first_file(&[root.join(format!("boot/config-{rel}")), moddir.join("config")])
        .context("no kernel config in the packages")?;

    // vmlinux
    let data = std::fs::read(&image)?;
    let elf = vmlinux::to_vmlinux(&data).with_context(|| format!("unpacking {}", image.display()))?;
    if let Some(r) = vmlinux::kernel_release(&elf) {
        if r != rel {
            bail!("image {} says release {r}, modules are for {rel}", image.display());
        }
    }
    std::fs::write(dest.join("vmlinux"), &elf)?;
    std::fs::copy(&config, dest.join("config"))?;

    // dependency closure of the guest modules
    run(Command::new("depmod").arg("-b").arg(&base).arg(&rel))?;
    let mut keep = BTreeSet::new();
    for m in modules {
        let out = Command::new("modprobe")
            .arg("-d")
            .arg(&base)
            .arg("-S")
            .arg(&rel)
            .arg("--show-depends")
            .arg(m)
            .output()?;
        if !out.status.success() {
            eprintln!(
                "note: {rel}: module {m} not available ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(path) = line.strip_prefix("insmod ") {
                let path = path.split_whitespace().next().unwrap_or("");
                let relpath = Path::new(path)
                    .strip_prefix(&moddir)
                    .with_context(|| format!("modprobe named {path} outside {}", moddir.display()))?;
                keep.insert(relpath.to_path_buf());
            }
        }
    }
    let kept_dir = dest.join("lib/modules").join(&rel);
    std::fs::create_dir_all(&kept_dir)?;
    for f in ["modules.order", "modules.builtin", "modules.builtin.modinfo"] {
        if moddir.join(f).is_file() {
            std::fs::copy(moddir.join(f), kept_dir.join(f))?;
        }
    }
    for k in &keep {
        let to = kept_dir.join(k);
        std::fs::create_dir_all(to.parent().unwrap())?;
        std::fs::copy(moddir.join(k), &to)?;
    }
    run(Command::new("depmod").arg("-b").arg(dest).arg(&rel))?;

    Ok(KernelRecord {
        id: String::new(),
        suites: vec![],
        meta: PackageRef {
            name: String::new(),
            version: String::new(),
        },
        packages: vec![],
        release: rel.clone(),
        vmlinux: "vmlinux".into(),
        config: "config".into(),
        modules: format!("lib/modules/{rel}"),
        kept_modules: keep.iter().map(|p| p.display().to_string()).collect(),
        download_bytes: 0,
        fetch_seconds: 0.0,
        fetched_at: 0,
    })
}
