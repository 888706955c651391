//! scikit-learn's random stream, bit for bit: numpy's legacy `RandomState` (MT19937) as
//! scikit-learn 1.9.1 calls it to seed and bag an `IsolationForest`, and the xorshift
//! `our_rand_r` its tree splitter draws features and thresholds from.
//!
//! Sources replicated (numpy 2.x, scikit-learn 1.9.1):
//! - `numpy/random/src/mt19937/mt19937.c`: `mt19937_seed` (init_genrand),
//!   `mt19937_init_by_array`, `mt19937_gen` (twist) and the tempered 32-bit output;
//! - `numpy/random/src/distributions/distributions.c`: `random_bounded_uint64_fill` with
//!   `use_masked` (legacy `randint`: ranges below 2^32 draw 32-bit words, mask to the
//!   smallest `2^k - 1` covering the range, reject above it) and `random_interval` (legacy
//!   `shuffle`, hence `permutation`);
//! - `sklearn/utils/_random.pyx`: `sample_without_replacement(method="auto")`;
//! - `sklearn/utils/_random.pxd` / `sklearn/tree/_utils.pyx`: `our_rand_r`, `rand_int`,
//!   `rand_uniform`.

/// MT19937 state words.
const N: usize = 624;
const M: usize = 397;

/// numpy's MT19937 as legacy `RandomState` drives it.
#[derive(Clone)]
pub(crate) struct Mt19937 {
    key: [u32; N],
    pos: usize,
}

impl Mt19937 {
    /// `RandomState(seed)` for an integer seed (numpy's `mt19937_seed`, Matsumoto and
    /// Nishimura's init_genrand).
    pub(crate) fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        let mut s = seed;
        for (pos, k) in key.iter_mut().enumerate() {
            *k = s;
            s = 1_812_433_253u32
                .wrapping_mul(s ^ (s >> 30))
                .wrapping_add(pos as u32 + 1);
        }
        Self { key, pos: N }
    }

    /// `RandomState(array_of_uint32)` (numpy's `mt19937_init_by_array`, init_by_array).
    pub(crate) fn from_key(init: &[u32]) -> Self {
        let mut mt = Self::new(19_650_218).key;
        let len = init.len().max(1);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(len) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            let word = init.get(j).copied().unwrap_or(0);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(word)
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        Self { key: mt, pos: N }
    }

    /// Our `seed: u64`: below 2^32 exactly numpy's `RandomState(seed)` (what scikit-learn
    /// makes of `random_state=seed`); numpy rejects larger integer seeds, so those seed as
    /// `RandomState([seed & 0xffffffff, seed >> 32])` (init_by_array of the two words).
    pub(crate) fn from_u64(seed: u64) -> Self {
        match u32::try_from(seed) {
            Ok(s) => Self::new(s),
            Err(_) => Self::from_key(&[seed as u32, (seed >> 32) as u32]),
        }
    }

    /// The next tempered 32-bit output (`genrand_int32`). numpy regenerates all 624 words
    /// when they run out; regenerating word `i` just before it is read gives the same
    /// words (each reads only words regenerated before it or not yet regenerated), and a
    /// stream that is read a few times (each tree's seed draws) skips the rest.
    pub(crate) fn next_u32(&mut self) -> u32 {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        if self.pos >= N {
            self.pos = 0;
        }
        let i = self.pos;
        let k = &mut self.key;
        let y = (k[i] & UPPER) | (k[(i + 1) % N] & LOWER);
        let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
        let mut y = k[(i + M) % N] ^ (y >> 1) ^ mag;
        k[i] = y;
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// Uniform in [0, 1) with 53 random bits (`genrand_res53`: legacy `random_sample`,
    /// `uniform`).
    #[cfg(test)]
    pub(crate) fn next_f64(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) / 9_007_199_254_740_992.0
    }

    /// Legacy `randint(high)` for `1 ≤ high ≤ 2^32`: uniform in `0..high`.
    pub(crate) fn randint(&mut self, high: u64) -> u64 {
        let rng = high.saturating_sub(1);
        if rng == 0 {
            return 0; // numpy draws nothing for a one-value range
        }
        if rng >= u64::from(u32::MAX) {
            return u64::from(self.next_u32());
        }
        let mask = mask_for(rng);
        loop {
            let v = u64::from(self.next_u32()) & mask;
            if v <= rng {
                return v;
            }
        }
    }

    /// `random_interval(max)`: uniform in `0..=max` (`max < 2^32`).
    fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mask = mask_for(u64::from(max)) as u32;
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// Legacy `permutation(n)` (`n < 2^32`): `arange(n)` shuffled from the end.
    pub(crate) fn permutation(&mut self, n: usize) -> Vec<u32> {
        let mut out: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u32) as usize;
            out.swap(i, j);
        }
        out
    }
}

/// Smallest `2^k - 1 ≥ v`.
fn mask_for(v: u64) -> u64 {
    let mut m = v;
    m |= m >> 1;
    m |= m >> 2;
    m |= m >> 4;
    m |= m >> 8;
    m |= m >> 16;
    m |= m >> 32;
    m
}

/// scikit-learn's `sample_without_replacement(n_population, n_samples, method="auto")`
/// (`k ≤ n < 2^32`): `permutation(n)[:k]` when `0.01 < k/n < 0.99`, tracking selection
/// (redraw duplicates) below, reservoir sampling above. In scikit-learn's order.
pub(crate) fn sample_without_replacement(rng: &mut Mt19937, n: usize, k: usize) -> Vec<u32> {
    let k = k.min(n);
    let ratio = if n == 0 { 1.0 } else { k as f64 / n as f64 };
    if ratio > 0.01 && ratio < 0.99 {
        let mut p = rng.permutation(n);
        p.truncate(k);
        return p;
    }
    if ratio < 0.2 {
        let mut seen = OpenSet::with_capacity(k);
        let mut out = Vec::with_capacity(k);
        for _ in 0..k {
            let mut j = rng.randint(n as u64) as u32;
            while !seen.insert(j) {
                j = rng.randint(n as u64) as u32;
            }
            out.push(j);
        }
        return out;
    }
    let mut out: Vec<u32> = (0..k as u32).collect();
    for i in k..n {
        let j = rng.randint(i as u64 + 1) as usize;
        if let Some(o) = out.get_mut(j) {
            *o = i as u32;
        }
    }
    out
}

/// A small open-addressing set of `u32` (never holds `u32::MAX`, which numpy cannot draw
/// here: populations are below 2^32).
struct OpenSet {
    table: Vec<u32>,
    mask: usize,
}

impl OpenSet {
    fn with_capacity(k: usize) -> Self {
        let cap = (2 * k).next_power_of_two().max(16);
        Self {
            table: vec![u32::MAX; cap],
            mask: cap - 1,
        }
    }

    /// True when `v` was not there yet.
    fn insert(&mut self, v: u32) -> bool {
        let mut slot = (v as usize).wrapping_mul(0x9E37_79B9) & self.mask;
        loop {
            match self.table.get_mut(slot) {
                Some(s) if *s == u32::MAX => {
                    *s = v;
                    return true;
                }
                Some(s) if *s == v => return false,
                Some(_) => slot = (slot + 1) & self.mask,
                None => return false, // unreachable: slot is masked into the table
            }
        }
    }
}

/// `RAND_R_MAX` of scikit-learn's tree utilities (2^31 - 1).
pub(crate) const RAND_R_MAX: u32 = 0x7fff_ffff;

/// scikit-learn's `our_rand_r` xorshift, the tree splitter's stream.
pub(crate) struct RandR(u32);

impl RandR {
    /// The splitter's state as `Splitter.init` seeds it: `randint(0, RAND_R_MAX)` from
    /// `RandomState(tree_seed)`.
    pub(crate) fn new(state: u32) -> Self {
        Self(state)
    }

    fn next(&mut self) -> u32 {
        if self.0 == 0 {
            self.0 = 1; // DEFAULT_SEED
        }
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 % (RAND_R_MAX + 1)
    }

    /// `rand_int(low, high)`: `low + r % (high - low)` (`low < high`).
    pub(crate) fn rand_int(&mut self, low: usize, high: usize) -> usize {
        let r = self.next() as usize;
        low + r % (high - low).max(1)
    }

    /// `rand_uniform(low, high)`: `(high - low) * r / RAND_R_MAX + low`, in [low, high].
    pub(crate) fn rand_uniform(&mut self, low: f64, high: f64) -> f64 {
        let r = f64::from(self.next());
        (high - low) * r / f64::from(RAND_R_MAX) + low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by numpy 2.4.6 / scikit-learn 1.9.1 (the commands are in
    // each comment); they pin the stream bit for bit.

    #[test]
    fn mt19937_matches_numpy_random_state() {
        // np.random.RandomState(5489).randint(2**32, size=3, dtype=np.uint64)
        // RandomState seeded with 5489 is the reference MT19937 (first output 3499211612).
        let mut r = Mt19937::new(5489);
        assert_eq!(
            [r.next_u32(), r.next_u32(), r.next_u32()],
            [3_499_211_612, 581_869_302, 3_890_346_734]
        );
    }

    #[test]
    fn randint_is_numpy_masked_rejection() {
        // np.random.RandomState(0).randint(2**31 - 1, size=5)
        let mut r = Mt19937::new(0);
        let got: Vec<u64> = (0..5).map(|_| r.randint((1 << 31) - 1)).collect();
        assert_eq!(
            got,
            [
                209_652_396,
                398_764_591,
                924_231_285,
                1_478_610_112,
                441_365_315
            ]
        );
        // r = np.random.RandomState(7); [r.randint(10) for _ in range(8)]
        let mut r = Mt19937::new(7);
        let got: Vec<u64> = (0..8).map(|_| r.randint(10)).collect();
        assert_eq!(got, [4, 9, 6, 3, 3, 7, 7, 9]);
        // np.random.RandomState(9).randint(0, 2**31 - 1): a tree splitter's rand_r seed
        assert_eq!(Mt19937::new(9).randint(u64::from(RAND_R_MAX)), 44_556_670);
    }

    #[test]
    fn permutation_and_uniform_match_numpy() {
        // np.random.RandomState(3).permutation(10)
        assert_eq!(
            Mt19937::new(3).permutation(10),
            [5, 4, 1, 2, 9, 6, 7, 0, 3, 8]
        );
        // np.random.RandomState(4).uniform(size=2)
        let mut r = Mt19937::new(4);
        assert_eq!(
            [r.next_f64(), r.next_f64()],
            [0.967_029_839_013_676_7, 0.547_232_249_175_722_3]
        );
    }

    #[test]
    fn seeds_above_u32_use_init_by_array_of_the_two_words() {
        // np.random.RandomState([0x89abcdef, 0x1]).randint(2**31 - 1, size=3)
        let mut r = Mt19937::from_u64(0x1_89ab_cdef);
        let got: Vec<u64> = (0..3).map(|_| r.randint((1 << 31) - 1)).collect();
        assert_eq!(got, [566_335_714, 1_125_689_104, 1_229_088_109]);
    }

    #[test]
    fn sample_without_replacement_matches_scikit_learn_in_every_branch() {
        use sample_without_replacement as swr;
        // from sklearn.utils.random import sample_without_replacement as swr
        // swr(10000, 256, random_state=1)[:5]: permutation branch
        assert_eq!(
            swr(&mut Mt19937::new(1), 10_000, 256)[..5],
            [9953, 3850, 4962, 3886, 5437]
        );
        // swr(100000, 256, random_state=2)[:5]: tracking selection
        assert_eq!(
            swr(&mut Mt19937::new(2), 100_000, 256)[..5],
            [89256, 72173, 95816, 44566, 31019]
        );
        // swr(20, 5, random_state=5): permutation of a small population
        assert_eq!(swr(&mut Mt19937::new(5), 20, 5), [2, 5, 17, 19, 12]);
        // swr(10, 10, random_state=3): reservoir, draws nothing
        let mut r = Mt19937::new(3);
        assert_eq!(swr(&mut r, 10, 10), (0..10).collect::<Vec<u32>>());
        assert_eq!(r.pos, N, "a full sample must not draw");
        // o = swr(1000, 995, random_state=4); [(i, v) for i, v in enumerate(o) if i != v]
        let o = swr(&mut Mt19937::new(4), 1000, 995);
        let moved: Vec<(usize, u32)> = o
            .iter()
            .enumerate()
            .filter(|&(i, &v)| i as u32 != v)
            .map(|(i, &v)| (i, v))
            .collect();
        assert_eq!(
            moved,
            [(122, 995), (174, 996), (439, 997), (709, 998), (897, 999)]
        );
    }

    #[test]
    fn our_rand_r_is_the_xorshift_with_default_seed_for_zero() {
        // sklearn.utils._random._our_rand_r_py(1) and (0): 0 becomes DEFAULT_SEED 1
        let mut a = RandR::new(1);
        let mut b = RandR::new(0);
        assert_eq!(a.next(), b.next());
        assert_eq!(RandR::new(1).next(), 270_369);
        // _our_rand_r_py(12345)
        assert_eq!(RandR::new(12_345).next(), 1_189_442_682);
    }
}
