//! Placeholder CLI (the lead merges this into the real one).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mapconform::kernels::cli;

#[derive(Parser)]
#[command(name = "mapconform", about = "Conformance suite for Linux eBPF maps")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The kernel matrix and cache.
    Kernels {
        #[command(subcommand)]
        cmd: KernelsCmd,
    },
    /// Booting kernels (debugging).
    Vm {
        #[command(subcommand)]
        cmd: VmCmd,
    },
}

#[derive(Subcommand)]
enum KernelsCmd {
    /// Download the matrix kernels (all, or the given ids) into the cache.
    Fetch {
        ids: Vec<String>,
        /// Fetch again even if the cached version is current.
        #[arg(long)]
        force: bool,
    },
    /// Show the cached kernels.
    List,
}

#[derive(Subcommand)]
enum VmCmd {
    /// Boot kernels (matrix ids or paths) and run a command as root in each.
    Boot {
        /// Kernel id(s) (comma separated) or path(s).
        #[arg(value_delimiter = ',', required = true)]
        kernels: Vec<String>,
        /// kvm or tcg (default: detect).
        #[arg(long)]
        accel: Option<mapconform::vm::Accel>,
        #[arg(long, default_value_t = mapconform::vm::DEFAULT_CPUS)]
        cpus: u32,
        #[arg(long, default_value_t = mapconform::vm::DEFAULT_MEMORY_MB)]
        memory_mb: u32,
        /// Seconds before the VM is killed.
        #[arg(long, default_value_t = 300)]
        deadline: u64,
        /// Boots at once (default: host CPUs / guest vCPUs).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Results directory (shared with the guest as $MAPCONFORM_RWDIR).
        #[arg(long, default_value = "target/vm-results")]
        rwdir: PathBuf,
        /// The guest command.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    mapconform::vm::install_interrupt_handler();
    match Cli::parse().cmd {
        Cmd::Kernels { cmd: KernelsCmd::Fetch { ids, force } } => cli::fetch(&ids, force),
        Cmd::Kernels { cmd: KernelsCmd::List } => cli::list(),
        Cmd::Vm { cmd: VmCmd::Boot { kernels, accel, cpus, memory_mb, deadline, jobs, rwdir, command } } => {
            cli::boot(&cli::BootArgs {
                kernels,
                accel,
                cpus,
                memory_mb,
                deadline: Duration::from_secs(deadline),
                jobs: jobs.unwrap_or_else(|| mapconform::vm::default_jobs(cpus)),
                rwdir: std::path::absolute(rwdir)?,
                command,
            })
        }
    }
}
