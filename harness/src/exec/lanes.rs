//! Two cases at a time: the executor on CPU 0 runs every case in order; a second lane on
//! CPU 1 takes, ahead of it, the cases whose results cannot depend on the CPU or the thread
//! they run on ([`runs_anywhere`]). A TCG guest's library is CPU-bound and its second vCPU
//! was idle most of the time (1.25 of 2 CPUs busy over a 6.12 run).
//!
//! Which cases may move is a list of what is known to be CPU-blind, not a list of what is
//! not: a case the rule does not know stays on CPU 0 where every snapshot was taken.

use super::{run_case, Env, Progress};
use crate::case::{Case, Op};
use crate::outcome::CaseResult;
use crate::uapi::MapType;
use std::borrow::Borrow;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// The lane every case may run on: the executor's, pinned to CPU 0.
pub const FIRST: usize = 0;
/// The lane on CPU 1, for cases that [`runs_anywhere`].
pub const SECOND: usize = 1;

/// Whether `case`'s results are the same on any CPU and any thread of the runner:
/// - no per-CPU state: per-CPU slots written by a program (the running CPU's), LRU free
///   lists (per CPU: which key is evicted), perf buffers and cpumap entries (per CPU);
/// - no "current task": task, inode, socket and cgroup storage, the stack a
///   `bpf_get_stackid` sees, the cgroup a thread is in (`cgroup` steps, cgroup maps);
/// - no objects and no traffic: sockets, interfaces, cgroups, redirects and sends go
///   through softirqs and devices whose CPU is the sender's;
/// - only map types whose every operation is CPU-blind (the list below); a type not on it
///   (a new one, `rhash` with its deferred resizes, `struct_ops` registering a global
///   ops table) stays on CPU 0.
pub fn runs_anywhere(case: &Case) -> bool {
    let blind_type = |t: MapType| {
        matches!(
            t,
            MapType::HASH
                | MapType::ARRAY
                | MapType::PROG_ARRAY
                | MapType::LPM_TRIE
                | MapType::ARRAY_OF_MAPS
                | MapType::HASH_OF_MAPS
                | MapType::QUEUE
                | MapType::STACK
                | MapType::RINGBUF
                | MapType::USER_RINGBUF
                | MapType::BLOOM_FILTER
                | MapType::ARENA
        )
    };
    let blind_step = |op: &Op| {
        !matches!(
            op,
            Op::Traffic { .. } | Op::Redirect { .. } | Op::Send { .. } | Op::Cgroup { .. } | Op::AttachToMap { .. }
        )
    };
    case.objects.is_empty()
        && case.maps.iter().all(|m| blind_type(m.map_type))
        && case.steps.iter().all(|s| blind_step(&s.op))
}

/// The cases not yet taken, in order, as they arrive: a thread of its own moves them here
/// from the caller's iterator (the guest's parser), so that no lane waits for the parser
/// while the other holds the queue.
struct Queue<C> {
    /// (index in the caller's order, case)
    waiting: VecDeque<(usize, C)>,
    /// The iterator has no more.
    complete: bool,
}

impl<C: Borrow<Case>> Queue<C> {
    /// What `lane` runs next: the first lane the oldest case, the second the oldest that
    /// [`runs_anywhere`]. `None`: nothing for it now; [`Taken::Done`]: nothing ever again.
    fn take(&mut self, lane: usize) -> Taken<C> {
        match (self.position(lane).and_then(|i| self.waiting.remove(i)), self.complete) {
            (Some((index, case)), _) => Taken::Case(index, case),
            (None, true) => Taken::Done,
            (None, false) => Taken::NotYet,
        }
    }

    /// What [`Queue::take`] would give `lane`, without taking it.
    fn peek(&self, lane: usize) -> Taken<()> {
        match (self.position(lane), self.complete) {
            (Some(_), _) => Taken::Case(0, ()),
            (None, true) => Taken::Done,
            (None, false) => Taken::NotYet,
        }
    }

    fn position(&self, lane: usize) -> Option<usize> {
        match lane {
            FIRST => (!self.waiting.is_empty()).then_some(0),
            _ => self.waiting.iter().position(|(_, c)| runs_anywhere(c.borrow())),
        }
    }
}

enum Taken<C> {
    Case(usize, C),
    NotYet,
    Done,
}

/// Runs every case of `cases`, on two lanes where CPU 1 is there to take one (`two_lanes`),
/// telling `progress` before and after each; the results come back in `cases`' order.
/// The calling thread is the first lane (pinned to CPU 0 by the caller).
pub(super) fn run<C: Borrow<Case> + Send>(
    cases: impl Iterator<Item = C> + Send,
    env: Env,
    two_lanes: bool,
    progress: &(impl Fn(Progress) + Sync),
) -> Vec<CaseResult> {
    let queue = Mutex::new(Queue::<C> {
        waiting: VecDeque::new(),
        complete: false,
    });
    let arrived = Condvar::new();
    let lock = || queue.lock().unwrap_or_else(|e| e.into_inner());
    // The next case for `lane`, telling `progress` first when there is none yet.
    let take = |lane: usize| {
        let mut queue = lock();
        loop {
            match queue.take(lane) {
                Taken::Case(index, case) => return Some((index, case)),
                Taken::Done => {
                    drop(queue);
                    progress(Progress::Idle { lane });
                    return None;
                }
                Taken::NotYet => {
                    drop(queue);
                    progress(Progress::Idle { lane });
                    queue = lock();
                    while let Taken::NotYet = queue.peek(lane) {
                        queue = arrived.wait(queue).unwrap_or_else(|e| e.into_inner());
                    }
                }
            }
        }
    };
    let run_lane = |lane: usize| {
        let mut results = Vec::new();
        while let Some((index, case)) = take(lane) {
            let case = case.borrow();
            progress(Progress::CaseStarted { case, lane });
            let started = Instant::now();
            let result = run_case(case, env);
            progress(Progress::CaseFinished {
                result: &result,
                lane,
                took: started.elapsed(),
            });
            results.push((index, result));
        }
        results
    };
    let mut results = std::thread::scope(|scope| {
        scope.spawn(|| {
            for (index, case) in cases.enumerate() {
                lock().waiting.push_back((index, case));
                arrived.notify_all();
            }
            lock().complete = true;
            arrived.notify_all();
        });
        let second = two_lanes.then(|| {
            std::thread::Builder::new()
                .name("second lane".into())
                .spawn_scoped(scope, || {
                    super::pin_to_cpu(SECOND);
                    run_lane(SECOND)
                })
        });
        let mut results = run_lane(FIRST);
        match second {
            Some(Ok(second)) => results.extend(second.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
            // No thread: the first lane has taken every case already.
            Some(Err(e)) => eprintln!("mapconform: no second lane ({e}): every case ran on CPU 0"),
            None => {}
        }
        results
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::parse::parse_case;

    fn case(yaml: &str) -> Case {
        parse_case(std::path::Path::new("t/x.yaml"), "t/x", yaml).unwrap()
    }

    #[test]
    fn only_cpu_blind_cases_run_anywhere() {
        let hash = case("about: a\nsource: b\nmaps:\n  m: {type: hash, key_size: 4, value_size: 4, max_entries: 1}\nsteps:\n  - update: {map: m, key: 1, value: 2}\n");
        assert!(runs_anywhere(&hash));
        for t in [
            "lru_hash",
            "percpu_array",
            "task_storage",
            "rhash",
            "struct_ops",
            "perf_event_array",
        ] {
            let c = case(&format!(
                "about: a\nsource: b\nmaps:\n  m: {{type: {t}, key_size: 4, value_size: 4, max_entries: 1}}\nsteps:\n  - lookup: {{map: m, key: 1}}\n"
            ));
            assert!(!runs_anywhere(&c), "{t}");
        }
    }

    #[test]
    fn the_second_lane_looks_past_cases_that_stay_on_cpu0() {
        let stays = case("about: a\nsource: b\nmaps:\n  m: {type: lru_hash, key_size: 4, value_size: 4, max_entries: 1}\nsteps: []\n");
        let moves = case(
            "about: a\nsource: b\nmaps:\n  m: {type: array, key_size: 4, value_size: 4, max_entries: 1}\nsteps: []\n",
        );
        let mut q = Queue {
            waiting: [&stays, &stays, &moves, &stays, &moves]
                .into_iter()
                .enumerate()
                .collect(),
            complete: false,
        };
        let index = |t: Taken<&Case>| match t {
            Taken::Case(i, _) => Some(i),
            Taken::NotYet => None,
            Taken::Done => panic!("not complete yet"),
        };
        assert_eq!(index(q.take(SECOND)), Some(2));
        assert_eq!(index(q.take(FIRST)), Some(0));
        assert_eq!(index(q.take(SECOND)), Some(4));
        assert_eq!(index(q.take(SECOND)), None, "only cases that stay on CPU 0 wait");
        assert_eq!(index(q.take(FIRST)), Some(1));
        assert_eq!(index(q.take(FIRST)), Some(3));
        assert_eq!(index(q.take(FIRST)), None);
        q.complete = true;
        assert!(matches!(q.take(FIRST), Taken::Done));
        assert!(matches!(q.take(SECOND), Taken::Done));
    }
}
