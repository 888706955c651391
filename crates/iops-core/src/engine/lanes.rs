//! `L` values side by side, one per series a pipeline scores in lock step (a host's four
//! metrics, or one series alone).
//!
//! Why: a host's four metrics arrive together, so their models advance together. Kept as
//! lanes of one array, every step is the same operation on each lane, which the compiler
//! turns into SIMD instructions, and the bookkeeping the lanes share (ring positions,
//! counters, forgetting weights) is done once instead of four times.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One value per lane. Serialises as a tuple of `L` values (serde implements arrays only up
/// to fixed lengths, not for a generic `L`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lanes<T, const L: usize>(pub(crate) [T; L]);

impl<T: Copy, const L: usize> Lanes<T, L> {
    /// The same value in every lane.
    #[inline(always)]
    pub(crate) fn splat(v: T) -> Self {
        Lanes([v; L])
    }

    /// Lane `l` is `f(l)`.
    #[inline(always)]
    pub(crate) fn from_fn(f: impl FnMut(usize) -> T) -> Self {
        Lanes(std::array::from_fn(f))
    }

    /// `f` of every lane.
    #[inline(always)]
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> Lanes<U, L> {
        Lanes(self.0.map(f))
    }
}

impl<const L: usize> Lanes<bool, L> {
    /// True when any lane is (branch once for all lanes; `|`, not `||`, so no branch each).
    #[inline(always)]
    pub(crate) fn any(self) -> bool {
        self.0.iter().fold(false, |a, &b| a | b)
    }
}

impl<T, const L: usize> Deref for Lanes<T, L> {
    type Target = [T; L];

    #[inline(always)]
    fn deref(&self) -> &[T; L] {
        &self.0
    }
}

impl<T, const L: usize> DerefMut for Lanes<T, L> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T; L] {
        &mut self.0
    }
}

impl<T: Serialize, const L: usize> Serialize for Lanes<T, L> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(L)?;
        for v in &self.0 {
            tuple.serialize_element(v)?;
        }
        tuple.end()
    }
}

impl<'de, T: Deserialize<'de> + Copy + Default, const L: usize> Deserialize<'de> for Lanes<T, L> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LanesVisitor<T, const L: usize>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Copy + Default, const L: usize> Visitor<'de>
            for LanesVisitor<T, L>
        {
            type Value = Lanes<T, L>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{L} lanes")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = [T::default(); L];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                // a self-describing format (JSON) may hold more: that is not this state
                if seq.next_element::<T>()?.is_some() {
                    return Err(A::Error::invalid_length(L + 1, &self));
                }
                Ok(Lanes(out))
            }
        }

        deserializer.deserialize_tuple(L, LanesVisitor::<T, L>(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_lengths() {
        let v = Lanes([1.5, -2.0, 0.0, 7.0]);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, "[1.5,-2.0,0.0,7.0]");
        assert_eq!(serde_json::from_str::<Lanes<f64, 4>>(&json).unwrap(), v);
        assert!(serde_json::from_str::<Lanes<f64, 4>>("[1.0,2.0,3.0]").is_err());
        assert!(serde_json::from_str::<Lanes<f64, 4>>("[1.0,2.0,3.0,4.0,5.0]").is_err());
        let bytes = postcard::to_allocvec(&v).unwrap();
        assert_eq!(postcard::from_bytes::<Lanes<f64, 4>>(&bytes).unwrap(), v);
        assert!(Lanes([false, true]).any() && !Lanes([false, false]).any());
    }
}
