//! Instruction sets: detection, the list this CPU can run, and running a generic kernel on one of them.
//!
//! This is the only file that names an instruction set or writes `cfg(target_arch)`.

use pulp::{Scalar128b, Scalar256b, Scalar512b, Simd, WithSimd};

use crate::Error;

/// A backend: an instruction set the kernels can be run with.
///
/// Every backend computes the same bits (see the crate docs on determinism); they differ only in speed.
/// The three `Emulated*` backends run the 4-, 8- and 16-lane vector logic in portable code on any CPU:
/// they are slow and exist to prove that the lane width does not change a result.
/// # Examples
/// ```
/// use triplet_simd::Isa;
/// // The hardware backends this CPU runs, widest first; scalar is always there.
/// let here: Vec<Isa> = Isa::available().collect();
/// assert_eq!(here.last(), Some(&Isa::Scalar));
/// assert!(here.contains(&Isa::detect()));
/// assert!(Isa::Emulated512.is_available()); // the emulated widths run everywhere
/// assert_eq!(Isa::ALL.len(), 7);
/// assert_eq!(Isa::Avx2.name(), "avx2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Portable scalar code, one lane (pulp's `Scalar`). Runs everywhere.
    Scalar,
    /// x86-64 AVX2 + FMA, 8 lanes (pulp's `V3`).
    Avx2,
    /// x86-64 AVX-512F/BW/CD/DQ/VL, 16 lanes (pulp's `V4`).
    Avx512,
    /// aarch64 Advanced SIMD, 4 lanes (pulp's `Neon`).
    Neon,
    /// Portable emulation of 4-lane vectors (pulp's `Scalar128b`). Runs everywhere.
    Emulated128,
    /// Portable emulation of 8-lane vectors (pulp's `Scalar256b`). Runs everywhere.
    Emulated256,
    /// Portable emulation of 16-lane vectors (pulp's `Scalar512b`). Runs everywhere.
    Emulated512,
}

impl Isa {
    /// Every backend this crate knows, in order of preference for the hardware ones.
    /// See the example of [`Isa`].
    pub const ALL: [Isa; 7] = [
        Isa::Avx512,
        Isa::Avx2,
        Isa::Neon,
        Isa::Scalar,
        Isa::Emulated128,
        Isa::Emulated256,
        Isa::Emulated512,
    ];

    /// The backend the default (free-function) path uses on this CPU: the widest one available.
    /// Detection runs once; pulp caches it in a static (from `std`'s detection, or from CPUID without
    /// `std`), so asking again costs one atomic load.
    /// See the example of [`Isa`].
    pub fn detect() -> Isa {
        Backend::detect().isa()
    }

    /// Whether this CPU (and this build) can run the backend.
    /// See the example of [`Isa`].
    pub fn is_available(self) -> bool {
        Backend::new(self).is_ok()
    }

    /// The hardware backends this CPU can run, widest first, always ending with [`Isa::Scalar`].
    /// (The emulated backends run everywhere and are not listed.)
    /// See the example of [`Isa`].
    pub fn available() -> impl Iterator<Item = Isa> {
        Isa::ALL[..4].iter().copied().filter(|i| i.is_available())
    }

    /// A short name: `"scalar"`, `"avx2"`, `"avx512"`, `"neon"`, `"emulated128"`, ….
    /// See the example of [`Isa`].
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
            Isa::Emulated128 => "emulated128",
            Isa::Emulated256 => "emulated256",
            Isa::Emulated512 => "emulated512",
        }
    }
}

impl core::fmt::Display for Isa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.pad(self.name())
    }
}

#[derive(Clone, Copy, Debug)]
enum Token {
    Scalar,
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    V3(pulp::x86::V3),
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    V4(pulp::x86::V4),
    #[cfg(target_arch = "aarch64")]
    Neon(pulp::aarch64::Neon),
    E128,
    E256,
    E512,
    /// The free functions' backend: detects at each call and branches straight to the widest kernel,
    /// without first building a token (measurably cheaper per call for short rows). Never escapes the
    /// crate: [`Backend::detect`] returns a concrete backend.
    Auto,
}

/// A backend that has been checked to run on this CPU: the handle every kernel is called through.
///
/// Build one with [`Backend::new`] to force an instruction set (for tests and benchmarks) or take
/// [`Backend::detect`]; the crate's free functions use the latter.
/// # Examples
/// ```
/// use triplet_simd::{Backend, Isa};
/// let b = Backend::detect(); // hold it outside a loop of short calls
/// assert_eq!(b.isa(), Isa::detect());
/// let x = [1.0, 2.0, 3.0];
/// let forced = Backend::new(Isa::Scalar)?;
/// assert_eq!(forced.sq_l2(&x, &[1.0, 2.0, 5.0])?, b.sq_l2(&x, &[1.0, 2.0, 5.0])?);
/// # Ok::<(), triplet_simd::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Backend {
    token: Token,
}

impl Backend {
    /// The chosen backend, if this CPU and build can run it.
    ///
    /// # Errors
    /// [`Error::UnavailableIsa`] when the CPU lacks the instruction set (or it is for another architecture).
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::{Backend, Isa};
    /// let scalar = Backend::new(Isa::Scalar)?; // always available
    /// assert_eq!(scalar.sq_l2(&[1.0, 2.0], &[1.0, 4.0])?, 4.0);
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    #[inline]
    pub fn new(isa: Isa) -> Result<Backend, Error> {
        let token = match isa {
            Isa::Scalar => Some(Token::Scalar),
            Isa::Emulated128 => Some(Token::E128),
            Isa::Emulated256 => Some(Token::E256),
            Isa::Emulated512 => Some(Token::E512),
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Isa::Avx2 => pulp::x86::V3::try_new().map(Token::V3),
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Isa::Avx512 => pulp::x86::V4::try_new().map(Token::V4),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => pulp::aarch64::Neon::try_new().map(Token::Neon),
            #[allow(unreachable_patterns)]
            _ => None,
        };
        token
            .map(|token| Backend { token })
            .ok_or(Error::UnavailableIsa { isa: isa.name() })
    }

    /// Every backend this CPU can run: the hardware ones widest first ([`Isa::available`], ending with
    /// scalar), then the three emulated widths. A user's own tests can loop over it to check that their
    /// results do not depend on the backend.
    ///
    /// # Examples
    /// ```
    /// use triplet_simd::Backend;
    /// let x = [0.5f32; 100];
    /// let y = [0.25f32; 100];
    /// let bits = triplet_simd::sq_l2(&x, &y)?.to_bits();
    /// for b in Backend::all() {
    ///     assert_eq!(b.sq_l2(&x, &y)?.to_bits(), bits, "{}", b.isa());
    /// }
    /// # Ok::<(), triplet_simd::Error>(())
    /// ```
    pub fn all() -> impl Iterator<Item = Backend> {
        Isa::available()
            .chain([Isa::Emulated128, Isa::Emulated256, Isa::Emulated512])
            .filter_map(|isa| Backend::new(isa).ok())
    }

    /// The backend of the default path: the widest this CPU runs ([`Isa::detect`]).
    /// See the example of [`Backend`].
    #[inline(always)]
    pub fn detect() -> Backend {
        // The same order of preference as `Token::Auto` in `run` (kept separate: building the token
        // first measured slower per call for short rows).
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        let token = pulp::x86::V4::try_new()
            .map(Token::V4)
            .or_else(|| pulp::x86::V3::try_new().map(Token::V3));
        #[cfg(target_arch = "aarch64")]
        let token = pulp::aarch64::Neon::try_new().map(Token::Neon);
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
        let token = None;
        Backend {
            token: token.unwrap_or(Token::Scalar),
        }
    }

    /// The free functions' backend (see [`Token::Auto`]).
    #[inline(always)]
    pub(crate) fn auto() -> Backend {
        Backend { token: Token::Auto }
    }

    /// Which instruction set this backend runs.
    /// See the example of [`Backend`].
    pub fn isa(&self) -> Isa {
        match self.token {
            Token::Auto => Backend::detect().isa(),
            Token::Scalar => Isa::Scalar,
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Token::V3(_) => Isa::Avx2,
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Token::V4(_) => Isa::Avx512,
            #[cfg(target_arch = "aarch64")]
            Token::Neon(_) => Isa::Neon,
            Token::E128 => Isa::Emulated128,
            Token::E256 => Isa::Emulated256,
            Token::E512 => Isa::Emulated512,
        }
    }

    /// Runs a generic kernel with this backend's `Simd` type (inside its `target_feature` context).
    #[inline(always)]
    pub(crate) fn run<Op: WithSimd>(self, op: Op) -> Op::Output {
        match self.token {
            Token::Scalar => portable(pulp::Scalar::new(), op),
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Token::V3(simd) => Simd::vectorize(simd, op),
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            Token::V4(simd) => Simd::vectorize(simd, op),
            #[cfg(target_arch = "aarch64")]
            Token::Neon(simd) => Simd::vectorize(simd, op),
            Token::E128 => portable(Scalar128b, op),
            Token::E256 => portable(Scalar256b, op),
            Token::E512 => portable(Scalar512b, op),
            // The same order of preference as `Backend::detect`.
            Token::Auto => {
                #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
                {
                    if let Some(simd) = pulp::x86::V4::try_new() {
                        return Simd::vectorize(simd, op);
                    }
                    if let Some(simd) = pulp::x86::V3::try_new() {
                        return Simd::vectorize(simd, op);
                    }
                }
                #[cfg(target_arch = "aarch64")]
                if let Some(simd) = pulp::aarch64::Neon::try_new() {
                    return Simd::vectorize(simd, op);
                }
                portable(pulp::Scalar::new(), op)
            }
        }
    }
}

/// Runs a kernel with a portable `Simd` type, out of line: keeps the slow portable code from bloating
/// (and slowing down the prologue of) every public function that dispatches.
#[inline(never)]
fn portable<S: Simd, Op: WithSimd>(simd: S, op: Op) -> Op::Output {
    op.with_simd(simd)
}

impl Default for Backend {
    fn default() -> Self {
        Backend::detect()
    }
}
