//! What the operator declared (maintenance windows and mutes, labels) as this process last
//! read it from the store: trusted for a refresh time, read again after it, and at once
//! after this process changed it.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A value read from the store, when, and how many changes this process made to it.
#[derive(Debug)]
pub(super) struct Declared<T> {
    value: Arc<T>,
    read_at: Option<Instant>,
    /// Changes this process made: a read that began before the latest one is not trusted
    /// (it may miss it), whatever it found.
    generation: u64,
}

impl<T: Default> Default for Declared<T> {
    fn default() -> Self {
        Declared {
            value: Arc::new(T::default()),
            read_at: None,
            generation: 0,
        }
    }
}

impl<T> Declared<T> {
    /// The value, if read less than `refresh` ago; else the generation a new read starts at
    /// (to hand to [`Declared::read`]).
    pub(super) fn fresh(&self, refresh: Duration) -> Result<Arc<T>, u64> {
        match self.read_at {
            Some(at) if at.elapsed() < refresh => Ok(Arc::clone(&self.value)),
            _ => Err(self.generation),
        }
    }

    /// A read that began at `generation` found `value` (`None`: it failed, the known value
    /// stays, until the next refresh). Trusted only if this process changed nothing since.
    pub(super) fn read(&mut self, value: Option<T>, generation: u64) -> Arc<T> {
        if let Some(v) = value {
            self.value = Arc::new(v);
        }
        if generation == self.generation {
            self.read_at = Some(Instant::now());
        }
        Arc::clone(&self.value)
    }

    /// This process changed the stored value: the next look reads it again.
    pub(super) fn changed(&mut self) {
        self.generation += 1;
        self.read_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_begun_before_a_change_is_not_trusted() {
        let mut d = Declared::<u32>::default();
        let refresh = Duration::from_secs(60);
        let began = d.fresh(refresh).unwrap_err();
        d.changed();
        // the read found what was stored before the change: kept, but read again next time
        assert_eq!(*d.read(Some(1), began), 1);
        let again = d.fresh(refresh).unwrap_err();
        assert_eq!(*d.read(Some(2), again), 2);
        assert_eq!(*d.fresh(refresh).unwrap(), 2);
        // a failed read keeps the value, trusted until the refresh
        d.changed();
        let began = d.fresh(refresh).unwrap_err();
        assert_eq!(*d.read(None, began), 2);
        assert!(d.fresh(refresh).is_ok());
    }
}
