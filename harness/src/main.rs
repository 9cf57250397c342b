//! The `mapconform` command line. Each subcommand is a thin shell over the library.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use mapconform::case::{load_library, Library};
use mapconform::kernels::{self, Cache};
use mapconform::matrix::{self, KernelRun, Options, Target};
use mapconform::outcome::RunReport;
use mapconform::report::results::KernelResults;
use mapconform::{exec, report, vm};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mapconform",
    version,
    about = "Conformance suite for Linux eBPF maps across kernel versions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate case files without running them.
    Check {
        /// Case files or folders (default: the repository's `cases/`).
        paths: Vec<PathBuf>,
    },
    /// Run cases on this kernel (`--host`) or in VMs (`--kernel`, `--matrix`) and print
    /// what each kernel did.
    Run {
        /// Run on the kernel this command runs on (needs root or CAP_BPF).
        #[arg(long, conflicts_with_all = ["kernel", "matrix"])]
        host: bool,
        /// Boot these kernels: matrix ids (from the cache) or paths to a bzImage, vmlinux or
        /// built kernel tree. Comma separated or repeated.
        #[arg(long, value_delimiter = ',')]
        kernel: Vec<String>,
        /// Boot every kernel of the matrix and print a cases × kernels summary.
        #[arg(long)]
        matrix: bool,
        /// With --matrix: this matrix file instead of kernels/matrix.yaml (or
        /// $MAPCONFORM_MATRIX); its `path:` entries boot local kernels (kernels/README.md).
        #[arg(long, value_name = "FILE", requires = "matrix")]
        matrix_file: Option<PathBuf>,
        /// Compare each kernel's results with the committed snapshots of this matrix kernel
        /// (default for matrix kernels: their own snapshots).
        #[arg(long)]
        compare_to: Option<String>,
        /// Only cases whose id contains this text.
        filter: Option<String>,
        #[arg(long)]
        cases: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// kvm or tcg (default: use KVM only where it really works).
        #[arg(long)]
        accel: Option<vm::Accel>,
        /// Boots at once (default: host CPUs / 2 guest vCPUs, bounded by memory).
        #[arg(long)]
        jobs: Option<usize>,
        /// Seconds before a VM is killed.
        #[arg(long)]
        deadline: Option<u64>,
        /// Write each kernel's results to DIR/<kernel>.json (read by `mapconform report`).
        #[arg(long, value_name = "DIR")]
        results_dir: Option<PathBuf>,
        /// Write JUnit XML: one testcase per (kernel, case).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// With --matrix: list every case in the summary, not only those that differ.
        #[arg(long)]
        full_table: bool,
    },
    /// The cross-kernel report from the committed snapshots and/or results of `run
    /// --results-dir`: a table, the behaviour changes, and with --out report.md,
    /// report.html and junit.xml. Fails when a result differs from its snapshot.
    Report {
        /// Results files or folders (searched for *.json); they replace their kernel's snapshots.
        #[arg(long, num_args = 1.., value_name = "DIR")]
        results: Vec<PathBuf>,
        /// Results from several machines (same as several --results).
        #[arg(long, num_args = 1.., value_name = "DIR")]
        merge: Vec<PathBuf>,
        /// The committed snapshots (default: the repository's `snapshots/`).
        #[arg(long)]
        snapshots: Option<PathBuf>,
        /// Default: SNAPSHOTS/explanations.yaml, if present.
        #[arg(long)]
        explanations: Option<PathBuf>,
        /// Write report.md, report.html and junit.xml here.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// List every case, not only those that differ.
        #[arg(long)]
        full_table: bool,
        /// Print only the files written.
        #[arg(long)]
        quiet: bool,
        /// Fail when a matrix kernel has no results.
        #[arg(long)]
        require_all: bool,
    },
    /// Print the coverage table: cases per map type and operation (Markdown or JSON).
    Coverage {
        #[arg(long)]
        cases: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = CoverageFormat::Markdown)]
        format: CoverageFormat,
    },
    /// Write the generated differential sweep, `cases/oracle/*.yaml` (see README).
    Sweep {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The kernel matrix and the kernel cache.
    Kernels {
        #[command(subcommand)]
        command: KernelsCommand,
    },
    /// Boot kernels and run an arbitrary command in each (debugging).
    Vm {
        /// Kernel id(s) (comma separated) or path(s).
        #[arg(value_delimiter = ',', required = true)]
        kernels: Vec<String>,
        #[arg(long)]
        accel: Option<vm::Accel>,
        #[arg(long, default_value_t = 300)]
        deadline: u64,
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Results directory (shared with the guest as $MAPCONFORM_RWDIR).
        #[arg(long, default_value = "target/vm-results")]
        rwdir: PathBuf,
        /// Boot on the minimal root case runs use (busybox, this binary at
        /// /mapconform/bin/mapconform) instead of the host's root.
        #[arg(long)]
        minimal_root: bool,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// An interactive root shell in a VM of KERNEL, with CASE's maps created and pinned
    /// under /sys/fs/bpf/mapconform/<map> and bpftool on the PATH. `exit` powers it off.
    Shell {
        /// A matrix id (from the cache) or a path to a bzImage, vmlinux or kernel tree.
        kernel: String,
        /// A case id (`hash/freeze`) or case file.
        case: Option<String>,
        /// Run the case's steps before pinning, so the maps hold what the case left.
        #[arg(long)]
        after_steps: bool,
        #[arg(long)]
        cases: Option<PathBuf>,
        #[arg(long)]
        accel: Option<vm::Accel>,
    },
    /// Inside a guest: mount bpffs, create a case's maps, pin them in DIR and exit.
    #[command(hide = true)]
    PinMaps {
        #[arg(long)]
        case: Option<PathBuf>,
        #[arg(long, default_value = mapconform::shell::PIN_DIR)]
        dir: PathBuf,
        #[arg(long)]
        after_steps: bool,
    },
    /// Measure the executor's cost per step against bare bpf(2) calls, and a program
    /// step's load against its run, on this kernel (`scripts/bench` runs it in each guest).
    #[command(hide = true)]
    BenchOps {
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
        /// Timed rounds of each loop (the fastest counts), after an untimed one.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Write the JSON here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Inside a guest: run cases and write the JSON run report (the runner contract).
    #[command(hide = true)]
    Guest {
        /// A folder of case files.
        #[arg(long, required_unless_present = "bundle", conflicts_with = "bundle")]
        cases: Option<PathBuf>,
        /// The cases as one JSON file (what the host writes into the rwdir).
        #[arg(long)]
        bundle: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Write each case's guest time (JSON lines) here: where a session's time goes.
        #[arg(long)]
        timings: Option<PathBuf>,
        /// Testing the crash path: panic the kernel (sysrq-c) once this many cases have
        /// finished and the next one's start is marked.
        #[arg(long, hide = true)]
        panic_after: Option<usize>,
        filter: Option<String>,
    },
}

#[derive(Subcommand)]
enum KernelsCommand {
    /// Download matrix kernels (all, or the given ids) into the cache.
    Fetch {
        ids: Vec<String>,
        /// Fetch again even if the cached version is current.
        #[arg(long)]
        force: bool,
    },
    /// Show the cached kernels.
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum CoverageFormat {
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Yaml,
    Json,
}

fn main() -> ExitCode {
    vm::install_interrupt_handler();
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mapconform: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The repository's `cases/` folder: `./cases` when run from the repository, else the one
/// next to the sources this binary was built from.
fn default_cases() -> PathBuf {
    let here = PathBuf::from("cases");
    if here.is_dir() {
        return here;
    }
    kernels::repo_root().join("cases")
}

fn load(paths: &[PathBuf]) -> Result<Library> {
    let mut all = Library {
        cases: Vec::new(),
        broken: Vec::new(),
    };
    for path in paths {
        let lib = load_library(path).with_context(|| format!("reading {}", path.display()))?;
        all.cases.extend(lib.cases);
        all.broken.extend(lib.broken);
    }
    Ok(all)
}

fn print_broken(lib: &Library) {
    for (_, errors) in &lib.broken {
        for e in errors {
            println!("error: {e}");
        }
    }
}

fn selected(lib: Library, filter: &Option<String>) -> Vec<mapconform::case::Case> {
    lib.cases
        .into_iter()
        .filter(|c| filter.as_ref().is_none_or(|f| c.id.contains(f)))
        .collect()
}

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Check { paths } => {
            let paths = if paths.is_empty() { vec![default_cases()] } else { paths };
            let lib = load(&paths)?;
            print_broken(&lib);
            println!(
                "{} cases valid, {} files with errors",
                lib.cases.len(),
                lib.broken.len()
            );
            Ok(if lib.broken.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Run {
            host: true,
            filter,
            cases,
            format,
            results_dir,
            junit,
            ..
        } => {
            let lib = load(&[cases.unwrap_or_else(default_cases)])?;
            print_broken(&lib);
            let broken = lib.broken.len();
            let cases = selected(lib, &filter);
            if cases.is_empty() {
                bail!("no case matches {:?}", filter.unwrap_or_default());
            }
            let run = exec::run_all(&cases).context("reading the kernel's CPU layout")?;
            let results = vec![KernelResults::host(&run)];
            match format {
                Format::Json => print_json_lines(&results)?,
                _ => print_run(&run, format)?,
            }
            let ids = cases.iter().map(|c| c.id.clone()).collect();
            write_machine_outputs(&results, ids, &results_dir, &junit, None)?;
            let failed = run.cases.iter().filter(|c| !c.passed()).count() + broken;
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Run {
            kernel,
            matrix: all,
            matrix_file,
            compare_to,
            filter,
            cases,
            format,
            accel,
            jobs,
            deadline,
            results_dir,
            junit,
            full_table,
            ..
        } => {
            if kernel.is_empty() && !all {
                bail!("say where to run: `--host`, `--kernel ID|PATH` or `--matrix`");
            }
            let cases_dir = cases.unwrap_or_else(default_cases);
            let lib = load(std::slice::from_ref(&cases_dir))?;
            print_broken(&lib);
            let targets = if all {
                matrix::targets_from(&matrix_file.unwrap_or_else(kernels::Matrix::default_path))?
            } else {
                resolve_targets(&kernel)?
            };
            let mut opts = Options::new(std::env::current_exe()?, cases_dir)?;
            // The guest runs only what is asked for.
            let mut targets = targets;
            if filter.is_some() {
                let ids: Vec<String> = lib
                    .cases
                    .iter()
                    .filter(|c| filter.as_ref().is_none_or(|f| c.id.contains(f)))
                    .map(|c| c.id.clone())
                    .collect();
                targets.iter_mut().for_each(|t| t.cases = Some(ids.clone()));
            }
            opts.accel = accel;
            opts.jobs = jobs.unwrap_or(opts.jobs);
            opts.deadline = deadline.map(Duration::from_secs).or(opts.deadline);
            let runs = boot_all(&targets, &opts);
            let snapshots = kernels::repo_root().join("snapshots");
            // Machine outputs: one object per kernel (JSON Lines on stdout, files, JUnit);
            // with JSON on stdout, the human text below goes to stderr.
            let results: Vec<KernelResults> = runs
                .iter()
                .map(|(id, run)| match run {
                    Ok(run) => {
                        let mut r = KernelResults::from_run(run);
                        r.cases.retain(|c| filter.as_ref().is_none_or(|f| c.case.contains(f)));
                        r
                    }
                    Err(why) => KernelResults::did_not_run(id, why),
                })
                .collect();
            let json = matches!(format, Format::Json);
            if json {
                print_json_lines(&results)?;
            }
            let ids = (lib.cases.iter().map(|c| c.id.clone()))
                .filter(|id| filter.as_ref().is_none_or(|f| id.contains(f)))
                .collect();
            write_machine_outputs(&results, ids, &results_dir, &junit, compare_to.clone())?;
            let human = |text: &str| if json { eprint!("{text}") } else { print!("{text}") };
            if let Some(baseline) = &compare_to {
                // Only what differs from the baseline, and an exit status for `git bisect run`.
                let comparisons = bisect_comparisons(&runs, &snapshots, baseline, &filter, human);
                let did_not_run = runs.iter().filter(|(_, r)| r.is_err()).count();
                let status = mapconform::compare::exit_status(&comparisons, did_not_run);
                return Ok(ExitCode::from(if lib.broken.is_empty() {
                    status
                } else {
                    status.max(1)
                }));
            }
            let mut failed = lib.broken.len();
            for (id, run) in &runs {
                match run {
                    Ok(run) => {
                        if let Some(why) = &run.retried {
                            human(&format!(
                                "{id}: booted twice: the first boot failed before any case ran:\n{why}\n"
                            ));
                        }
                        let mut run = run.clone();
                        run.report
                            .cases
                            .retain(|c| filter.as_ref().is_none_or(|f| c.case.contains(f)));
                        if !all && !json {
                            print_run(&run.report, format)?;
                        }
                        let diffs = report::compare(&run.report, &snapshots, id);
                        failed += run.report.cases.iter().filter(|c| !c.passed()).count();
                        if all && diffs.iter().all(|d| d.comparison == report::Comparison::NoSnapshot) {
                            // a local kernel (`path:` entry) has no snapshots of its own
                            human(&format!("\n{id}: no snapshots/{id} to compare with\n"));
                        } else if all {
                            failed += diffs.iter().filter(|d| d.differs()).count();
                            human(&report::comparison_text(id, id, &diffs));
                        }
                    }
                    Err(why) => {
                        failed += 1;
                        human(&format!("{id}: did not run:\n{why}\n"));
                    }
                }
            }
            if all {
                human(&report::matrix_table_with(&runs, &snapshots, full_table));
            }
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Report {
            results,
            merge,
            snapshots,
            explanations,
            out,
            full_table,
            quiet,
            require_all,
        } => {
            let ok = report::cli::report(&report::cli::ReportArgs {
                snapshots: snapshots.unwrap_or_else(|| kernels::repo_root().join("snapshots")),
                results: results.into_iter().chain(merge).collect(),
                explanations,
                out,
                full_table,
                quiet,
                require_all,
            })?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Coverage { cases, format } => {
            let lib = load(&[cases.unwrap_or_else(default_cases)])?;
            print_broken(&lib);
            match format {
                CoverageFormat::Markdown => print!("{}", mapconform::coverage::markdown(&lib.cases)),
                CoverageFormat::Json => print!("{}", mapconform::coverage::json(&lib.cases)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep { out } => {
            let dir = out.unwrap_or_else(|| default_cases().join("oracle"));
            for path in mapconform::oracle::sweep::write(&dir)? {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Kernels {
            command: KernelsCommand::Fetch { ids, force },
        } => {
            kernels::cli::fetch(&ids, force)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Kernels {
            command: KernelsCommand::List,
        } => {
            kernels::cli::list()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Vm {
            kernels,
            accel,
            deadline,
            jobs,
            rwdir,
            minimal_root,
            command,
        } => {
            kernels::cli::boot(&kernels::cli::BootArgs {
                minimal_root,
                kernels,
                accel,
                cpus: vm::DEFAULT_CPUS,
                memory_mb: vm::DEFAULT_MEMORY_MB,
                deadline: Duration::from_secs(deadline),
                jobs: jobs.unwrap_or_else(vm::default_jobs),
                rwdir: std::path::absolute(rwdir)?,
                command,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Shell {
            kernel,
            case,
            after_steps,
            cases,
            accel,
        } => {
            let cases = std::path::absolute(cases.unwrap_or_else(default_cases))?;
            let case = case.map(|c| mapconform::shell::case_file(&c, &cases)).transpose()?;
            if let Some(file) = &case {
                // a broken case stops here, not after a boot
                load_case_file(file)?;
            }
            let kernel = Cache::from_env()?.resolve(&kernel)?;
            let accel = accel.unwrap_or_else(|| {
                let (accel, reason) = vm::detect_accel(&kernel);
                eprintln!("accelerator: {accel} ({reason})");
                accel
            });
            let status = mapconform::shell::run(&mapconform::shell::ShellRequest {
                kernel,
                case,
                after_steps,
                accel,
                exe: std::env::current_exe()?,
            })?;
            Ok(if status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::PinMaps { case, dir, after_steps } => {
            let Some(file) = case else {
                mapconform::prog::ensure_bpffs().map_err(|e| anyhow::anyhow!("mounting bpffs: {e}"))?;
                return Ok(ExitCode::SUCCESS);
            };
            let case = load_case_file(&file)?;
            for line in mapconform::shell::pin_maps(&case, &dir, after_steps)? {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchOps { iterations, rounds, out } => {
            // bpffs for the program steps (not guest::prepare: this may run on a host).
            mapconform::prog::ensure_bpffs().map_err(|e| anyhow::anyhow!("mounting bpffs: {e}"))?;
            let json = serde_json::to_string(&mapconform::bench::ops(iterations, rounds)?)?;
            match out {
                Some(file) => {
                    std::fs::write(&file, json + "\n").with_context(|| format!("writing {}", file.display()))?
                }
                None => println!("{json}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Guest {
            cases,
            bundle,
            out,
            timings,
            panic_after,
            filter,
        } => {
            let mut clock = mapconform::guest::Timings::new(timings);
            mapconform::guest::prepare()?;
            clock.phase("prepared");
            let (total, cases): (usize, Box<dyn Iterator<Item = mapconform::case::Case>>) = match (cases, bundle) {
                (Some(dir), _) => {
                    let cases = selected(load(&[dir])?, &filter);
                    (cases.len(), Box::new(cases.into_iter()))
                }
                (None, Some(file)) => {
                    let keep = |id: &str| filter.as_ref().is_none_or(|f| id.contains(f));
                    let (total, cases) = mapconform::guest::read_bundle(&file, keep)?;
                    (total, Box::new(cases))
                }
                (None, None) => unreachable!("clap requires one"),
            };
            let mut marks = mapconform::guest::Marks::create(&out.with_file_name(mapconform::guest::PROGRESS_FILE))?;
            clock.phase("cases read");
            clock.fact("marks", "shared", marks.shared().into());
            let mut done = 0;
            let run: RunReport = exec::run_all_with(cases, |p| {
                // one line per case on stderr, which reaches the host's console pipe: the
                // progress display (guest::parse_progress); the marks are for crashes
                match &p {
                    exec::Progress::CaseStarted(case) => {
                        eprintln!("{}", mapconform::guest::progress_line(done, total, &case.id))
                    }
                    exec::Progress::CaseFinished(result) => {
                        done += 1;
                        clock.case(&result.case);
                    }
                    exec::Progress::Started { .. } => {}
                }
                let starting = matches!(p, exec::Progress::CaseStarted(_));
                marks.record(p);
                if starting && panic_after == Some(done) {
                    let _ = std::fs::write("/proc/sysrq-trigger", "c");
                }
            })?;
            eprintln!("{}", mapconform::guest::progress_line(total, total, ""));
            clock.phase("cases run");
            let json = serde_json::to_vec(&run)?;
            // Write then rename, so the host never reads half a report.
            let tmp = out.with_extension("partial");
            std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &out)?;
            clock.phase("report written");
            clock.finish();
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--compare-to`: each kernel's differences from the baseline's snapshots, printed with
/// `human`; a kernel that did not run says why.
fn bisect_comparisons(
    runs: &[(String, Result<KernelRun, String>)],
    snapshots: &std::path::Path,
    baseline: &str,
    filter: &Option<String>,
    human: impl Fn(&str),
) -> Vec<mapconform::compare::Comparison> {
    let mut out = Vec::new();
    for (id, run) in runs {
        match run {
            Ok(run) => {
                let mut report = run.report.clone();
                report
                    .cases
                    .retain(|c| filter.as_ref().is_none_or(|f| c.case.contains(f)));
                let comparison = mapconform::compare::compare(id, &report, snapshots, baseline);
                human(&comparison.render());
                out.push(comparison);
            }
            Err(why) => human(&format!("{id}: did not run:\n{why}\n")),
        }
    }
    out
}

/// One case file (`cases/hash/freeze.yaml` has the id `hash/freeze`); its errors, located.
fn load_case_file(file: &Path) -> Result<mapconform::case::Case> {
    let root = file.parent().and_then(Path::parent).unwrap_or(Path::new("/"));
    mapconform::case::load_case(root, file).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("{}", lines.join("\n"))
    })
}

/// `--kernel` specs: cached matrix ids or paths.
fn resolve_targets(specs: &[String]) -> Result<Vec<Target>> {
    let cache = Cache::from_env()?;
    Ok(specs
        .iter()
        .map(|spec| Target {
            id: spec.clone(),
            kernel: cache.resolve(spec).map_err(|e| format!("{e:#}")),
            cases: None,
        })
        .collect())
}

/// Boot every target (progress on stderr), results in target order.
fn boot_all(targets: &[Target], opts: &Options) -> Vec<(String, Result<KernelRun, String>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let ids: Vec<String> = (targets.iter())
        .map(|t| t.kernel.as_ref().map_or_else(|_| t.id.clone(), |k| k.id.clone()))
        .collect();
    let printer = std::thread::spawn(move || mapconform::ui::show_events(rx, &ids));
    // a kernel that cannot even be booted ends its progress line at once
    for t in targets {
        if let Err(why) = &t.kernel {
            let first = why.lines().next().unwrap_or_default().to_string();
            let _ = tx.send(vm::events::VmEvent::Failed {
                id: t.id.clone(),
                error: first,
            });
        }
    }
    let results = matrix::Runs::start(targets.to_vec(), opts.clone(), Some(tx)).finish();
    let _ = printer.join();
    results
        .into_iter()
        .map(|(id, run)| (id, Arc::unwrap_or_clone(run)))
        .collect()
}

/// `--format json`: JSON Lines, one compact object per kernel (see README).
fn print_json_lines(results: &[KernelResults]) -> Result<()> {
    for r in results {
        println!("{}", serde_json::to_string(r)?);
    }
    Ok(())
}

/// `--results-dir` and `--junit`.
fn write_machine_outputs(
    results: &[KernelResults],
    cases: Vec<String>,
    results_dir: &Option<PathBuf>,
    junit: &Option<PathBuf>,
    compare_to: Option<String>,
) -> Result<()> {
    if let Some(dir) = results_dir {
        for r in results {
            r.write_to_dir(dir)?;
        }
    }
    if let Some(file) = junit {
        let snapshots = kernels::repo_root().join("snapshots");
        report::cli::write_run_junit(file, results.to_vec(), cases, &snapshots, compare_to)?;
    }
    Ok(())
}

fn print_run(run: &RunReport, format: Format) -> Result<()> {
    match format {
        Format::Text => print!("{}", report::text(run)),
        Format::Yaml => print!("{}", serde_saphyr::to_string(run)?),
        Format::Json => println!("{}", serde_json::to_string_pretty(run)?),
    }
    Ok(())
}
