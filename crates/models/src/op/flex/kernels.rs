//! The per-row gate passes of the native CPU op, and the fast `exp` they are built on.
//!
//! Each pass is a straight loop over the `H` units of one batch row with no branches, which the
//! compiler vectorises; [`multiversion!`] compiles it once per instruction-set path (AVX-512,
//! AVX2+FMA, the baseline) and runs the process's path (`isa.rs`: the best the processor has, or
//! the one `RNNLAB_CPU_ISA` forces), so the release build needs no `target-cpu` flag. On aarch64
//! the baseline already has NEON and fused multiply-add, and the `neon` path is the baseline
//! body with `FMA`.

/// Defines `pub(super) fn $name(args)` whose body is compiled for AVX-512, AVX2 and the baseline
/// and dispatched on the process's [`CpuIsa`](super::isa::CpuIsa). In the body, `FMA` says
/// whether the variant has fused multiply-add (AVX-512, AVX2 and NEON do): pass it on to [`exp`]
/// and the functions built on it.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        pub(super) fn $name($($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body<const FMA: bool>($($arg: $ty),*) $body
            match super::isa::isa() {
                #[cfg(target_arch = "x86_64")]
                super::isa::CpuIsa::Avx512 => {
                    #[target_feature(enable = "avx512f")]
                    #[allow(clippy::too_many_arguments)]
                    unsafe fn v4($($arg: $ty),*) { body::<true>($($arg),*) }
                    // SAFETY: the path is only chosen where the processor has AVX-512.
                    unsafe { v4($($arg),*) }
                }
                #[cfg(target_arch = "x86_64")]
                super::isa::CpuIsa::Avx2 => {
                    #[target_feature(enable = "avx2,fma")]
                    #[allow(clippy::too_many_arguments)]
                    unsafe fn v3($($arg: $ty),*) { body::<true>($($arg),*) }
                    // SAFETY: the path is only chosen where the processor has AVX2 and FMA.
                    unsafe { v3($($arg),*) }
                }
                super::isa::CpuIsa::Neon => body::<true>($($arg),*),
                _ => body::<false>($($arg),*),
            }
        }
    };
}

/// `e^x` within 2 ulp for `x` in [−87, 88] (clamped outside), branch-free so that it
/// vectorises: Cody–Waite range reduction `x = n ln 2 + r`, Cephes' degree-6 polynomial for
/// `e^r`, and `2^n` built in the exponent bits.
#[inline(always)]
pub(crate) fn exp<const FMA: bool>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to an integer kept in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let fma = mul_add::<FMA>;
    let x = x.clamp(-87.0, 88.0);
    let shifted = fma(x, LOG2E, MAGIC);
    let n = shifted - MAGIC;
    let r = fma(-n, LN2_LO, fma(-n, LN2_HI, x));
    let mut p = 1.987_569_1e-4_f32;
    p = fma(p, r, 1.398_199_9e-3);
    p = fma(p, r, 8.333_452e-3);
    p = fma(p, r, 4.166_579_6e-2);
    p = fma(p, r, 1.666_666_5e-1);
    p = fma(p, r, 0.5); // Cephes: 5.0000001e-1, which is 0.5 in f32
    let e_r = fma(p * r, r, r) + 1.0;
    let n_bits = shifted.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
    e_r * f32::from_bits(((n_bits + 127) << 23) as u32)
}

/// `a · b + c`, as one fused instruction where `FMA` (the variant has it), else a multiply and
/// an add (without the hardware, `f32::mul_add` is a slow library call).
#[inline(always)]
fn mul_add<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Asks the processor to start loading `data` into its caches: a hint that changes no result.
#[inline]
pub(super) fn prefetch(data: &[f32]) {
    prefetch_at(data.as_ptr(), data.len());
}

/// [`prefetch`] for the `floats` floats from `ptr`, one request per 64-byte line; the address
/// need not be valid (the product asks for rows of `W` ahead, also past its end).
#[inline(always)]
pub(super) fn prefetch_at(ptr: *const f32, floats: usize) {
    #[cfg(target_arch = "x86_64")]
    for at in (0..floats).step_by(16) {
        // SAFETY: a prefetch reads nothing the program sees and never faults, whatever the
        // address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                ptr.wrapping_add(at).cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, floats);
}

/// `σ(x) = 1 / (1 + e^(−x))`.
#[inline(always)]
pub(crate) fn sigmoid<const FMA: bool>(x: f32) -> f32 {
    1.0 / (1.0 + exp::<FMA>(-x))
}

/// `tanh(x) = 2σ(2x) − 1`.
#[inline(always)]
pub(crate) fn tanh<const FMA: bool>(x: f32) -> f32 {
    2.0 / (1.0 + exp::<FMA>(-2.0 * x)) - 1.0
}

/// `ln(x)` within 2 ulp for positive normal `x`, branch-free: `x = 2^e · m` with `m` in
/// `[√½, √2)`, and Cephes' degree-8 polynomial for `ln(m)`.
#[inline(always)]
pub(crate) fn ln<const FMA: bool>(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let fma = mul_add::<FMA>;
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 as f32 - 127.0;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // in [½, 1)
    e += 1.0;
    // m < √½: use 2m (in [1, √2)) and e − 1.
    let small = m < SQRT_HALF;
    m = if small { m + m } else { m };
    e = if small { e - 1.0 } else { e };
    let r = m - 1.0;
    let z = r * r;
    let mut p = 7.037_683_6e-2_f32;
    p = fma(p, r, -1.151_461e-1);
    p = fma(p, r, 1.167_699_9e-1);
    p = fma(p, r, -1.242_014_1e-1);
    p = fma(p, r, 1.424_932_3e-1);
    p = fma(p, r, -1.666_805_8e-1);
    p = fma(p, r, 2.000_071_5e-1);
    p = fma(p, r, -2.499_999_4e-1);
    p = fma(p, r, 3.333_333e-1);
    let mut y = r * z * p;
    y = fma(e, -2.121_944_4e-4, y);
    y = fma(-0.5, z, y);
    fma(e, 0.693_359_4, r + y)
}

/// `(σ(x), ln σ(x))` from one `exp`: `ln σ(x) = min(x, 0) − ln(1 + e^(−|x|))`.
#[inline(always)]
fn sigmoid_and_log<const FMA: bool>(x: f32) -> (f32, f32) {
    let e = exp::<FMA>(-x.abs());
    let inv = 1.0 / (1.0 + e);
    let s = if x >= 0.0 { inv } else { e * inv };
    (s, x.min(0.0) - ln::<FMA>(1.0 + e))
}

/// What one sLSTM unit computes from its gate pre-activations `a` (`ĩ, f̃, z̃, õ`) and its
/// previous `(c, n, m)`: the stabilised gates `[i', f', z, o]`, `σ(f̃)`, `w` (1 where the new
/// stabiliser is `ĩ`), the new `(c, n, m)` and `h = o · c / n`.
struct SlstmUnit {
    gates: [f32; 4],
    sf: f32,
    won: f32,
    state: [f32; 3],
    h: f32,
}

#[inline(always)]
fn slstm_unit<const FMA: bool>(a: [f32; 4], [cp, np, mp]: [f32; 3]) -> SlstmUnit {
    let (sf, lf) = sigmoid_and_log::<FMA>(a[1]);
    let lfm = lf + mp;
    // `max(ĩ, ln σ(f̃) + m)`, `ĩ` at a tie and where the state is empty (`n = 0`).
    let won = np == 0.0 || a[0] >= lfm;
    let m = if won { a[0] } else { lfm };
    let i = exp::<FMA>(a[0] - m);
    let f = exp::<FMA>(lfm - m);
    let z = tanh::<FMA>(a[2]);
    let o = sigmoid::<FMA>(a[3]);
    let c = f * cp + i * z;
    let n = f * np + i;
    SlstmUnit {
        gates: [i, f, z, o],
        sf,
        won: if won { 1.0 } else { 0.0 },
        state: [c, n, m],
        h: o * c / n,
    }
}

multiversion! {
    /// sLSTM forward for one row and a range of `len` units. `x[g]`, `rec[g]`: gate `g`'s
    /// pre-activation parts; `state`: `c, n, m` (updated in place where `valid`); outputs: `h`,
    /// and where `saved` is given, `[i', f', z, o, σ(f̃), w, c_prev, n_prev, c, n]` (the saved
    /// layout's order).
    fn slstm_forward(
        x: [&[f32]; 4],
        rec: [&[f32]; 4],
        valid: bool,
        state: [&mut [f32]; 3],
        h: &mut [f32],
        saved: Option<[&mut [f32]; 10]>,
    ) {
        let len = h.len();
        let [xi, xf, xz, xo] = x.map(|s| &s[..len]);
        let [ri, rf, rz, ro] = rec.map(|s| &s[..len]);
        let [c, n, m] = state.map(|s| &mut s[..len]);
        match saved {
            Some(saved) => {
                let [gi, gf, gz, go, sf, won, cp, np, cn, nn] = saved.map(|s| &mut s[..len]);
                for j in 0..len {
                    let a = [xi[j] + ri[j], xf[j] + rf[j], xz[j] + rz[j], xo[j] + ro[j]];
                    let prev = [c[j], n[j], m[j]];
                    let u = slstm_unit::<FMA>(a, prev);
                    [gi[j], gf[j], gz[j], go[j]] = u.gates;
                    (sf[j], won[j]) = (u.sf, u.won);
                    (cp[j], np[j]) = (prev[0], prev[1]);
                    (cn[j], nn[j]) = (u.state[0], u.state[1]);
                    h[j] = u.h;
                    if valid {
                        [c[j], n[j], m[j]] = u.state;
                    }
                }
            }
            None => {
                for j in 0..len {
                    let a = [xi[j] + ri[j], xf[j] + rf[j], xz[j] + rz[j], xo[j] + ro[j]];
                    let u = slstm_unit::<FMA>(a, [c[j], n[j], m[j]]);
                    h[j] = u.h;
                    if valid {
                        [c[j], n[j], m[j]] = u.state;
                    }
                }
            }
        }
    }
}

multiversion! {
    /// sLSTM backward for one row and a range of units, from the saved `[i', f', z, o]`,
    /// `σ(f̃)`, `w` and `[c_prev, n_prev, c, n]`, and `dh`, the gradient of the step's `h`.
    /// `dstate` holds the gradients of the new `c, n, m` on entry, of the previous ones on exit;
    /// `da[g]` receives gate `g`'s pre-activation gradient. The stabiliser's gradient (zero
    /// but for rounding where the loss reads only `h`) goes where its `max` took it from.
    fn slstm_backward(
        gates: [&[f32]; 4],
        sf: &[f32],
        won: &[f32],
        states: [&[f32]; 4],
        dh: &[f32],
        dstate: [&mut [f32]; 3],
        da: [&mut [f32]; 4],
    ) {
        let len = dh.len();
        let [i_, f_, z_, o_] = gates.map(|s| &s[..len]);
        let (sf, won) = (&sf[..len], &won[..len]);
        let [cp, np, cn, nn] = states.map(|s| &s[..len]);
        let [dc, dn, dm] = dstate.map(|s| &mut s[..len]);
        let [di, df, dz, d_o] = da.map(|s| &mut s[..len]);
        for j in 0..len {
            let (i, f, z, o) = (i_[j], f_[j], z_[j], o_[j]);
            let inv = 1.0 / nn[j];
            let ht = cn[j] * inv;
            let g = dh[j];
            d_o[j] = g * ht * o * (1.0 - o);
            let dct = dc[j] + g * o * inv;
            let dnt = dn[j] - g * o * ht * inv;
            // Gradients of `ln i'` and `ln f'`, and what reaches the new stabiliser.
            let ai = (dct * z + dnt) * i;
            let bf = (dct * cp[j] + dnt * np[j]) * f;
            let dmt = dm[j] - ai - bf;
            let w = won[j];
            di[j] = ai + w * dmt;
            let dlf = bf + (1.0 - w) * dmt;
            df[j] = dlf * (1.0 - sf[j]);
            dz[j] = dct * i * (1.0 - z * z);
            dc[j] = dct * f;
            dn[j] = dnt * f;
            dm[j] = dlf;
        }
    }
}

/// One LSTM unit from its four gate pre-activations `a` and previous cell state `cp`:
/// `([i, f, g, o], c', tanh(c'))`.
#[inline(always)]
fn lstm_unit<const FMA: bool>(a: [f32; 4], cp: f32) -> ([f32; 4], f32, f32) {
    let gates = [
        sigmoid::<FMA>(a[0]),
        sigmoid::<FMA>(a[1]),
        tanh::<FMA>(a[2]),
        sigmoid::<FMA>(a[3]),
    ];
    let cn = gates[1] * cp + gates[0] * gates[2];
    (gates, cn, tanh::<FMA>(cn))
}

multiversion! {
    /// LSTM forward for one row and a range of `len` units. `x[g]`, `rec[g]`: gate `g`'s
    /// pre-activation parts; `c`: the cell state (updated in place where `valid`); outputs:
    /// `gates[g]` (activated), `c_prev`, `tanh_c` and `m = o · tanh(c)`.
    fn lstm_forward(
        x: [&[f32]; 4],
        rec: [&[f32]; 4],
        valid: bool,
        c: &mut [f32],
        gates: [&mut [f32]; 4],
        c_prev: &mut [f32],
        tanh_c: &mut [f32],
        m: &mut [f32],
    ) {
        let len = c.len();
        let [xi, xf, xg, xo] = x.map(|s| &s[..len]);
        let [ri, rf, rg, ro] = rec.map(|s| &s[..len]);
        let [gi, gf, gg, go] = gates.map(|s| &mut s[..len]);
        let (c_prev, tanh_c, m) = (&mut c_prev[..len], &mut tanh_c[..len], &mut m[..len]);
        for j in 0..len {
            let a = [xi[j] + ri[j], xf[j] + rf[j], xg[j] + rg[j], xo[j] + ro[j]];
            let cp = c[j];
            let ([i, f, g, o], cn, t) = lstm_unit::<FMA>(a, cp);
            gi[j] = i;
            gf[j] = f;
            gg[j] = g;
            go[j] = o;
            c_prev[j] = cp;
            tanh_c[j] = t;
            m[j] = o * t;
            c[j] = if valid { cn } else { cp };
        }
    }
}

multiversion! {
    /// [`lstm_forward`] without the activations the backward needs (inference): only the cell
    /// state `c` (updated where `valid`) and `m = o · tanh(c)`.
    fn lstm_infer(
        x: [&[f32]; 4],
        rec: [&[f32]; 4],
        valid: bool,
        c: &mut [f32],
        m: &mut [f32],
    ) {
        let len = c.len();
        let [xi, xf, xg, xo] = x.map(|s| &s[..len]);
        let [ri, rf, rg, ro] = rec.map(|s| &s[..len]);
        let m = &mut m[..len];
        for j in 0..len {
            let a = [xi[j] + ri[j], xf[j] + rf[j], xg[j] + rg[j], xo[j] + ro[j]];
            let cp = c[j];
            let (gates, cn, t) = lstm_unit::<FMA>(a, cp);
            m[j] = gates[3] * t;
            c[j] = if valid { cn } else { cp };
        }
    }
}

multiversion! {
    /// LSTM backward for one row and a range of units. `dm`: the gradient of `m = o · tanh(c)`;
    /// `dc`: that of the new cell state on entry, of the previous one on exit; `da[g]` receives
    /// gate `g`'s pre-activation gradient.
    fn lstm_backward(
        gates: [&[f32]; 4],
        c_prev: &[f32],
        tanh_c: &[f32],
        dm: &[f32],
        dc: &mut [f32],
        da: [&mut [f32]; 4],
    ) {
        let len = dc.len();
        let [i_, f_, g_, o_] = gates.map(|s| &s[..len]);
        let (c_prev, tanh_c, dm) = (&c_prev[..len], &tanh_c[..len], &dm[..len]);
        let [di, df, dg, d_o] = da.map(|s| &mut s[..len]);
        for j in 0..len {
            let (i, f, g, o) = (i_[j], f_[j], g_[j], o_[j]);
            let t = tanh_c[j];
            let dct = dc[j] + dm[j] * o * (1.0 - t * t);
            di[j] = dct * g * i * (1.0 - i);
            df[j] = dct * c_prev[j] * f * (1.0 - f);
            dg[j] = dct * i * (1.0 - g * g);
            d_o[j] = dm[j] * t * o * (1.0 - o);
            dc[j] = dct * f;
        }
    }
}

multiversion! {
    /// GRU forward for one row and a range of units: `gates[g]` receives `r z n`, `hn`
    /// `W_hn h + b_hn`, `h_new` the new state.
    fn gru_forward(
        x: [&[f32]; 3],
        rec: [&[f32]; 3],
        b_hn: &[f32],
        h_prev: &[f32],
        gates: [&mut [f32]; 3],
        hn: &mut [f32],
        h_new: &mut [f32],
    ) {
        let len = h_new.len();
        let [xr, xz, xn] = x.map(|s| &s[..len]);
        let [rr, rz, rn] = rec.map(|s| &s[..len]);
        let (b_hn, h_prev) = (&b_hn[..len], &h_prev[..len]);
        let [gr, gz, gn] = gates.map(|s| &mut s[..len]);
        let hn = &mut hn[..len];
        for j in 0..len {
            let r = sigmoid::<FMA>(xr[j] + rr[j]);
            let z = sigmoid::<FMA>(xz[j] + rz[j]);
            let lin = rn[j] + b_hn[j];
            let n = tanh::<FMA>(xn[j] + r * lin);
            gr[j] = r;
            gz[j] = z;
            gn[j] = n;
            hn[j] = lin;
            h_new[j] = n + z * (h_prev[j] - n);
        }
    }
}

multiversion! {
    /// GRU backward for one row and a range of units from the gradient `dh` of the new state:
    /// `dxp[g]` receives the gradient of the input projection, `drec[g]` that of `W_hh h`,
    /// `direct` the part of the previous state's gradient that bypasses `W_hh` (`dh · z`).
    fn gru_backward(
        gates: [&[f32]; 3],
        hn: &[f32],
        h_prev: &[f32],
        dh: &[f32],
        dxp: [&mut [f32]; 3],
        drec: [&mut [f32]; 3],
        direct: &mut [f32],
    ) {
        let len = dh.len();
        let [r_, z_, n_] = gates.map(|s| &s[..len]);
        let (hn, h_prev) = (&hn[..len], &h_prev[..len]);
        let [xr, xz, xn] = dxp.map(|s| &mut s[..len]);
        let [rr, rz, rn] = drec.map(|s| &mut s[..len]);
        let direct = &mut direct[..len];
        for j in 0..len {
            let (r, z, n) = (r_[j], z_[j], n_[j]);
            let dn = dh[j] * (1.0 - z);
            let dz = dh[j] * (h_prev[j] - n);
            let dan = dn * (1.0 - n * n);
            let dar = dan * hn[j] * r * (1.0 - r);
            let daz = dz * z * (1.0 - z);
            xr[j] = dar;
            xz[j] = daz;
            xn[j] = dan;
            rr[j] = dar;
            rz[j] = daz;
            rn[j] = dan * r;
            direct[j] = dh[j] * z;
        }
    }
}

multiversion! {
    /// Elman RNN forward for one row and a range of units: `h_new = act(x + rec)` (tanh, or
    /// relu when `relu`).
    fn rnn_forward(x: &[f32], rec: &[f32], relu: bool, h_new: &mut [f32]) {
        let len = h_new.len();
        let (x, rec) = (&x[..len], &rec[..len]);
        if relu {
            for j in 0..len {
                h_new[j] = (x[j] + rec[j]).max(0.0);
            }
        } else {
            for j in 0..len {
                h_new[j] = tanh::<FMA>(x[j] + rec[j]);
            }
        }
    }
}

multiversion! {
    /// Elman RNN backward for one row and a range of units: `da = dh · act'`, from the saved
    /// output `h_new`.
    fn rnn_backward(h_new: &[f32], dh: &[f32], relu: bool, da: &mut [f32]) {
        let len = da.len();
        let (h_new, dh) = (&h_new[..len], &dh[..len]);
        if relu {
            for j in 0..len {
                da[j] = if h_new[j] > 0.0 { dh[j] } else { 0.0 };
            }
        } else {
            for j in 0..len {
                da[j] = dh[j] * (1.0 - h_new[j] * h_new[j]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both forms: with fused multiply-adds (the AVX-512 and AVX2 variants) and without.
    #[test]
    fn fast_exp_sigmoid_and_tanh_match_std() {
        check::<false>();
        check::<true>();
    }

    fn check<const FMA: bool>() {
        let mut worst = (0.0f32, 0.0f32, 0.0f32);
        let mut x = -90.0f32;
        while x < 90.0 {
            let e = exp::<FMA>(x);
            let want = x.clamp(-87.0, 88.0).exp();
            worst.0 = worst.0.max(((e - want) / want).abs());
            worst.1 = worst
                .1
                .max((sigmoid::<FMA>(x) - 1.0 / (1.0 + (-x).exp())).abs());
            worst.2 = worst.2.max((tanh::<FMA>(x) - x.tanh()).abs());
            x += 0.001_3;
        }
        assert!(worst.0 < 3e-7, "FMA {FMA}: exp relative error {}", worst.0);
        assert!(
            worst.1 < 2e-7,
            "FMA {FMA}: sigmoid absolute error {}",
            worst.1
        );
        assert!(worst.2 < 4e-7, "FMA {FMA}: tanh absolute error {}", worst.2);
        // `ln` over many binades, and `ln σ` where the sLSTM's forget gate uses it.
        let mut worst_ln = 0.0f32;
        let mut x = 1e-30f32;
        while x < 1e30 {
            worst_ln = worst_ln.max((ln::<FMA>(x) - x.ln()).abs() / x.ln().abs().max(1.0));
            x *= 1.013;
        }
        assert!(worst_ln < 3e-7, "FMA {FMA}: ln relative error {worst_ln}");
        let mut worst_ls = (0.0f64, 0.0f64);
        let mut x = -90.0f32;
        while x < 90.0 {
            let (s, l) = sigmoid_and_log::<FMA>(x);
            let want_s = 1.0 / (1.0 + (-(x as f64)).exp());
            worst_ls.0 = worst_ls.0.max((s as f64 - want_s).abs());
            worst_ls.1 = worst_ls.1.max((l as f64 - want_s.ln()).abs());
            x += 0.001_7;
        }
        assert!(worst_ls.0 < 2e-7, "FMA {FMA}: σ error {}", worst_ls.0);
        assert!(worst_ls.1 < 2e-6, "FMA {FMA}: ln σ error {}", worst_ls.1);
    }
}
