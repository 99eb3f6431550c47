//! Which instruction set the op's CPU kernels run: the best the processor has, or a lower one
//! that `RNNLAB_CPU_ISA` asks for.
//!
//! The same source is compiled once per path and the path is picked at run time, so one release
//! build serves every CPU: the step and projection products (`small_gemm.rs`, one generic kernel
//! on `pulp`'s SIMD types) and the gate passes (`kernels.rs`, compiled per path by the
//! compiler). Forcing a lower path lets one machine test and benchmark every path its processor
//! can run; the path is read once per process, so a run never mixes two.
//!
//! The gemm crate's products outside the op (burn's matmuls: the input projection's gradients
//! and the layers around the recurrence) choose their own instruction set and are not affected.

use std::sync::OnceLock;

/// The environment variable that forces a path (`avx512`, `avx2`, `neon` or `portable`).
pub const ISA_VAR: &str = "RNNLAB_CPU_ISA";

/// An instruction-set path of the op's CPU kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CpuIsa {
    /// x86-64-v4: AVX-512 (F, BW, CD, DQ, VL), 16 floats a register, 32 registers.
    Avx512,
    /// x86-64-v3: AVX2 with FMA, 8 floats a register, 16 registers.
    Avx2,
    /// aarch64 Advanced SIMD: 4 floats a register, 32 registers, fused multiply-add.
    Neon,
    /// Plain loops compiled for the target's baseline (SSE2 on x86-64), vectorised by the
    /// compiler where it can.
    Portable,
}

/// Why `RNNLAB_CPU_ISA` cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsaError {
    /// The value names no path.
    #[error("{ISA_VAR}={value}: expected one of avx512, avx2, neon, portable")]
    Unknown {
        /// The variable's value.
        value: String,
    },
    /// The processor cannot run the path asked for.
    #[error("{ISA_VAR}={value}: this processor cannot run it (it can run: {available})")]
    Unsupported {
        /// The variable's value.
        value: String,
        /// The paths it can run, best first, comma-separated.
        available: String,
    },
}

impl CpuIsa {
    /// Every path, best first.
    const ALL: [CpuIsa; 4] = [Self::Avx512, Self::Avx2, Self::Neon, Self::Portable];

    /// The name `RNNLAB_CPU_ISA` takes and reports print.
    pub fn name(self) -> &'static str {
        match self {
            CpuIsa::Avx512 => "avx512",
            CpuIsa::Avx2 => "avx2",
            CpuIsa::Neon => "neon",
            CpuIsa::Portable => "portable",
        }
    }

    /// Parses a name as [`name`](Self::name) prints it (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this processor can run the path.
    pub fn supported(self) -> bool {
        match self {
            CpuIsa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            CpuIsa::Avx512 => pulp::x86::V4::try_new().is_some(),
            #[cfg(target_arch = "x86_64")]
            CpuIsa::Avx2 => pulp::x86::V3::try_new().is_some(),
            #[cfg(target_arch = "aarch64")]
            CpuIsa::Neon => pulp::aarch64::Neon::try_new().is_some(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every path this processor can run, best first (the last is always `Portable`).
    pub fn available() -> Vec<CpuIsa> {
        Self::ALL
            .into_iter()
            .filter(|isa| isa.supported())
            .collect()
    }

    /// The best path this processor can run.
    pub fn best() -> CpuIsa {
        Self::available()[0]
    }

    /// The path `RNNLAB_CPU_ISA` asks for (unset or empty: the best), checked against the
    /// processor.
    pub fn from_env() -> Result<CpuIsa, IsaError> {
        match std::env::var(ISA_VAR) {
            Ok(value) if !value.trim().is_empty() => Self::resolve(&value),
            _ => Ok(Self::best()),
        }
    }

    /// The path named `value`, checked against the processor.
    pub fn resolve(value: &str) -> Result<CpuIsa, IsaError> {
        let isa = Self::parse(value).ok_or_else(|| IsaError::Unknown {
            value: value.to_string(),
        })?;
        if isa.supported() {
            Ok(isa)
        } else {
            let available: Vec<_> = Self::available().iter().map(|i| i.name()).collect();
            Err(IsaError::Unsupported {
                value: value.to_string(),
                available: available.join(", "),
            })
        }
    }
}

impl std::fmt::Display for CpuIsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The path this process's kernels run: `RNNLAB_CPU_ISA` if set, else the best the processor
/// has; read once. A binary should call it at start-up to report a bad value as one error line
/// (the op itself can only panic with it).
pub fn cpu_isa() -> Result<CpuIsa, IsaError> {
    chosen().clone()
}

fn chosen() -> &'static Result<CpuIsa, IsaError> {
    static ISA: OnceLock<Result<CpuIsa, IsaError>> = OnceLock::new();
    ISA.get_or_init(CpuIsa::from_env)
}

/// [`cpu_isa`] for the kernels: panics with the error's line where the variable cannot be
/// honoured.
#[inline]
pub(super) fn isa() -> CpuIsa {
    match chosen() {
        Ok(isa) => *isa,
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_values_are_one_clear_line() {
        for isa in CpuIsa::ALL {
            assert_eq!(CpuIsa::parse(isa.name()), Some(isa));
        }
        assert_eq!(CpuIsa::parse(" AVX2 "), Some(CpuIsa::Avx2));
        let e = CpuIsa::resolve("sse9").unwrap_err().to_string();
        assert_eq!(
            e,
            "RNNLAB_CPU_ISA=sse9: expected one of avx512, avx2, neon, portable"
        );
        assert_eq!(CpuIsa::resolve("portable"), Ok(CpuIsa::Portable));
        let available = CpuIsa::available();
        assert_eq!(available.last(), Some(&CpuIsa::Portable));
        for isa in [CpuIsa::Avx512, CpuIsa::Avx2, CpuIsa::Neon] {
            match CpuIsa::resolve(isa.name()) {
                Ok(got) => assert!(available.contains(&got)),
                Err(e) => {
                    assert!(!available.contains(&isa));
                    assert!(
                        e.to_string().contains("this processor cannot run it"),
                        "{e}"
                    );
                }
            }
        }
        // x86-64 never has NEON, aarch64 never AVX.
        #[cfg(target_arch = "x86_64")]
        assert!(!available.contains(&CpuIsa::Neon));
        #[cfg(target_arch = "aarch64")]
        assert!(!available.contains(&CpuIsa::Avx2));
    }

    /// What `.ci/run` relies on when it reruns the op's tests with the variable set.
    #[test]
    fn the_kernels_run_the_forced_path_or_else_the_best() {
        let want = match std::env::var(ISA_VAR) {
            Ok(v) if !v.trim().is_empty() => CpuIsa::resolve(&v).expect("a path this CPU has"),
            _ => CpuIsa::best(),
        };
        assert_eq!(isa(), want);
        eprintln!(
            "op kernels on the {want} path (of {:?})",
            CpuIsa::available()
        );
    }
}
