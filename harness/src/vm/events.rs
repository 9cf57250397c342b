//! Progress of fetches and boots as typed events over an mpsc channel; a separate consumer
//! (e.g. [`print_events`]) shows them.

use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use super::{Accel, Outcome};

#[derive(Debug, Clone, PartialEq)]
pub enum VmEvent {
    /// Updating the package lists of a kernel's suites and finding its current version.
    Resolving {
        id: String,
        suites: Vec<String>,
    },
    /// Resolving and downloading a kernel.
    Fetching {
        id: String,
        packages: Vec<String>,
    },
    Fetched {
        id: String,
        version: String,
        download_bytes: u64,
        cache_bytes: u64,
        wall: Duration,
    },
    UpToDate {
        id: String,
        version: String,
    },
    FetchFailed {
        id: String,
        error: String,
    },
    /// Which accelerator boots use, and why.
    Accel {
        accel: Accel,
        reason: String,
    },
    Booting {
        id: String,
    },
    /// The guest runs cases: `done` of `total` finished, `case` is next (empty at the end).
    Running {
        id: String,
        done: usize,
        total: usize,
        case: String,
    },
    Booted {
        id: String,
        wall: Duration,
        outcome: Outcome,
    },
    Failed {
        id: String,
        error: String,
    },
    /// The boot failed before the guest's runner started (an infrastructure failure, not a
    /// result): it is tried once more.
    Retrying {
        id: String,
        why: Outcome,
    },
}

/// Where events go; `None` drops them.
pub type Events<'a> = Option<&'a Sender<VmEvent>>;

pub(crate) fn emit(events: Events, ev: VmEvent) {
    if let Some(tx) = events {
        let _ = tx.send(ev);
    }
}

/// One human-readable line per event.
pub fn describe(ev: &VmEvent) -> String {
    let mb = |b: &u64| format!("{:.1} MB", *b as f64 / 1e6);
    match ev {
        VmEvent::Resolving { id, suites } => format!("[{id}] resolving in {}", suites.join(", ")),
        VmEvent::Fetching { id, packages } => format!("[{id}] fetching {}", packages.join(" ")),
        VmEvent::Fetched {
            id,
            version,
            download_bytes,
            cache_bytes,
            wall,
        } => format!(
            "[{id}] fetched {version}: downloaded {}, cached {}, {:.1}s",
            mb(download_bytes),
            mb(cache_bytes),
            wall.as_secs_f64()
        ),
        VmEvent::UpToDate { id, version } => format!("[{id}] up to date ({version})"),
        VmEvent::FetchFailed { id, error } => format!("[{id}] FETCH FAILED: {error}"),
        VmEvent::Accel { accel, reason } => format!("accelerator: {accel} ({reason})"),
        VmEvent::Booting { id } => format!("[{id}] booting"),
        VmEvent::Running {
            id, done: 0, total: 1, ..
        } => format!("[{id}] running 1 case"),
        VmEvent::Running { id, done: 0, total, .. } => format!("[{id}] running {total} cases"),
        VmEvent::Running { id, done, total, case } => format!("[{id}] {done}/{total} cases done {case}")
            .trim_end()
            .to_string(),
        VmEvent::Booted { id, wall, outcome } => format!("[{id}] {outcome} after {:.1}s", wall.as_secs_f64()),
        VmEvent::Failed { id, error } => format!("[{id}] FAILED: {error}"),
        VmEvent::Retrying { id, why } => format!("[{id}] {why} before any case ran: booting once more"),
    }
}

/// Prints events to stderr until every sender is gone: one line each, except the guest's
/// per-case progress, of which only the start is worth a line in a log.
pub fn print_events(rx: Receiver<VmEvent>) {
    for ev in rx {
        if matches!(ev, VmEvent::Running { done, .. } if done > 0) {
            continue;
        }
        eprintln!("{}", describe(&ev));
    }
}

/// The guest's progress lines on `id`'s console, as [`VmEvent::Running`].
pub(crate) fn watch_console(line: &str, id: &str, events: Events) {
    if let Some((done, total, case)) = crate::guest::parse_progress(line) {
        emit(
            events,
            VmEvent::Running {
                id: id.to_string(),
                done,
                total,
                case,
            },
        );
    }
}
