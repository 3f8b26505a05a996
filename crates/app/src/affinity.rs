//! The CPUs a thread may run on (Linux's `sched_getaffinity` and `sched_setaffinity`, for the
//! calling thread), for the license writer's placing ([`crate::commit`]).

use std::mem::size_of;

/// A set of CPUs, as the kernel keeps a thread's affinity (CPU numbers from 0).
#[derive(Clone, Copy)]
pub(crate) struct CpuSet(libc::cpu_set_t);

impl CpuSet {
    /// The CPUs the calling thread may run on; `None` when the kernel does not say.
    pub(crate) fn of_this_thread() -> Option<CpuSet> {
        // SAFETY: an all-zero `cpu_set_t` is an empty set (plain bits); the kernel fills at
        // most the size it is given.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let got = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
        (got == 0).then_some(CpuSet(set))
    }

    /// The set of `cpu` alone (`None` past the largest CPU number a set holds).
    pub(crate) fn only(cpu: usize) -> Option<CpuSet> {
        if cpu >= libc::CPU_SETSIZE as usize {
            return None;
        }
        // SAFETY: as above; `cpu` is within the set's bits.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe { libc::CPU_SET(cpu, &mut set) };
        Some(CpuSet(set))
    }

    /// The CPUs of the set, in ascending order.
    pub(crate) fn cpus(&self) -> Vec<usize> {
        (0..libc::CPU_SETSIZE as usize)
            // SAFETY: every `cpu` is within the set's bits.
            .filter(|cpu| unsafe { libc::CPU_ISSET(*cpu, &self.0) })
            .collect()
    }

    /// Lets the calling thread run on these CPUs only (the threads it starts from then on
    /// inherit that). Whether the kernel took it.
    pub(crate) fn apply_to_this_thread(&self) -> bool {
        // SAFETY: the set is read, within the size given.
        unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &self.0) == 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_pinned_to_one_cpu_gets_its_cpus_back() {
        let all = CpuSet::of_this_thread().expect("affinity").cpus();
        let Some(&last) = all.last() else {
            panic!("no CPU")
        };
        std::thread::spawn(move || {
            let before = CpuSet::of_this_thread().expect("affinity");
            assert!(CpuSet::only(last).expect("set").apply_to_this_thread());
            assert_eq!(
                CpuSet::of_this_thread().expect("affinity").cpus(),
                vec![last]
            );
            assert!(before.apply_to_this_thread());
            assert_eq!(CpuSet::of_this_thread().expect("affinity").cpus(), all);
        })
        .join()
        .expect("thread");
        assert!(CpuSet::only(libc::CPU_SETSIZE as usize).is_none());
    }
}
