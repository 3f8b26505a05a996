//! The CPUs a thread may run on (Linux's `sched_getaffinity` and `sched_setaffinity`, for the
//! calling thread), for the license writer's placing ([`crate::commit`]).

/// A set of CPUs, as the kernel keeps a thread's affinity (CPU numbers from 0).
#[derive(Clone, Copy)]
pub(crate) struct CpuSet(libc::cpu_set_t);

/// How many CPUs a [`CpuSet`] can hold: its bits (1,024 with glibc).
const BITS: usize = 8 * size_of::<libc::cpu_set_t>();

impl CpuSet {
    /// The CPUs the calling thread may run on; `None` when the kernel does not say (on a
    /// machine with more CPUs than a set holds, say).
    pub(crate) fn of_this_thread() -> Option<CpuSet> {
        // SAFETY: an all-zero `cpu_set_t` is an empty set (plain bits).
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: the kernel fills at most the size it is given, of the set it is given.
        let got = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
        (got == 0).then_some(CpuSet(set))
    }

    /// The set of `cpu` alone (`None` past the largest CPU number a set holds).
    pub(crate) fn only(cpu: usize) -> Option<CpuSet> {
        if cpu >= BITS {
            return None;
        }
        // SAFETY: as above; `cpu` is within the set's bits.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe { libc::CPU_SET(cpu, &mut set) };
        Some(CpuSet(set))
    }

    /// The CPUs of the set, in ascending order.
    pub(crate) fn cpus(&self) -> Vec<usize> {
        (0..BITS)
            // SAFETY: every `cpu` is within the set's bits.
            .filter(|cpu| unsafe { libc::CPU_ISSET(*cpu, &self.0) })
            .collect()
    }

    /// Lets the calling thread run on these CPUs only (the threads it starts from then on
    /// inherit that). Errors: the system's, when it refuses (a set with none of the CPUs the
    /// thread may be given, say).
    pub(crate) fn apply_to_this_thread(&self) -> std::io::Result<()> {
        // SAFETY: the set is read, within the size given.
        match unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &self.0) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_pinned_to_one_cpu_gets_its_cpus_back() {
        assert!(CpuSet::only(BITS).is_none());
        let all = CpuSet::of_this_thread().expect("affinity").cpus();
        if all.len() < 2 {
            eprintln!("one CPU only: nothing to narrow");
            return;
        }
        let last = *all.last().expect("a CPU");
        std::thread::spawn(move || {
            let before = CpuSet::of_this_thread().expect("affinity");
            CpuSet::only(last)
                .expect("set")
                .apply_to_this_thread()
                .expect("pin");
            assert_eq!(
                CpuSet::of_this_thread().expect("affinity").cpus(),
                vec![last]
            );
            before.apply_to_this_thread().expect("widen");
            assert_eq!(CpuSet::of_this_thread().expect("affinity").cpus(), all);
        })
        .join()
        .expect("thread");
    }
}
