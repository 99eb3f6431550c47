use super::*;

/// On every path this processor has (an AVX-512 machine tests the AVX2 and portable kernels
/// too), every row count of a block, full and partial column blocks, `k` across a pass.
#[test]
fn matches_a_plain_triple_loop_on_every_block_shape_and_path() {
    for isa in CpuIsa::available() {
        matches_a_plain_triple_loop(isa);
    }
}

fn matches_a_plain_triple_loop(isa: CpuIsa) {
    for (m, n, k) in [
        (1, 1, 1),
        (7, 70, 3),
        (13, 17, 9),
        (32, 129, 40),
        (6, 64, 1),
        (5, 15, 0),
        (9, 80, 300),
        (12, 200, 600),
        (4, 24, 1100),
        // More rows than one pass over `W` takes (126 on AVX2, 510 on AVX-512).
        (130, 40, 300),
        (515, 20, 70),
    ] {
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let w: Vec<f32> = (0..k * (n + 3))
            .map(|i| ((i * 5 % 13) as f32 - 6.0) / 4.0)
            .collect();
        let start: Vec<f32> = (0..m * (n + 2)).map(|i| (i % 3) as f32).collect();
        let bias: Vec<f32> = (0..n).map(|j| (j % 5) as f32 - 2.0).collect();
        for start_kind in 0..3 {
            let start_with = match start_kind {
                0 => Start::Zero,
                1 => Start::Accumulate,
                _ => Start::Bias(&bias),
            };
            let mut c = start.clone();
            // SAFETY: all three buffers hold the shapes passed (with their strides).
            let packed = pack_on(isa, &w, n + 3, 1, k, 0, n);
            unsafe {
                gemm_on(
                    isa,
                    m,
                    n,
                    k,
                    Mat {
                        ptr: a.as_ptr(),
                        ld: k,
                    },
                    &packed,
                    MatMut {
                        ptr: c.as_mut_ptr(),
                        ld: n + 2,
                    },
                    start_with,
                )
            };
            for i in 0..m {
                for j in 0..n + 2 {
                    let mut want = if j >= n || start_kind == 1 {
                        start[i * (n + 2) + j]
                    } else if start_kind == 2 {
                        bias[j]
                    } else {
                        0.0
                    };
                    if j < n {
                        for p in 0..k {
                            want += a[i * k + p] * w[p * (n + 3) + j];
                        }
                    }
                    let got = c[i * (n + 2) + j];
                    assert!(
                        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                        "{isa} ({m},{n},{k}) [{i},{j}]: {got} vs {want}"
                    );
                }
            }
        }
    }
}
