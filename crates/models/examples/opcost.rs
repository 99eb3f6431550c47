//! Per-op costs on a device, for the shapes of one recurrent step (used to design the time loop;
//! see BENCHMARKS.md).
//!
//! ```text
//! cargo build --release --workspace --examples && target/release/examples/opcost
//! ```

use std::time::Instant;

use burn::Tensor;
use burn::prelude::Device;
use burn::tensor::Distribution;
use burn::tensor::activation::sigmoid;

fn bench(name: &str, device: &Device, reps: usize, mut f: impl FnMut()) {
    f();
    device.sync().unwrap();
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    device.sync().unwrap();
    println!(
        "{name:50} {:9.1} µs",
        start.elapsed().as_secs_f64() * 1e6 / reps as f64
    );
}

/// The same tree split as `scan::split_time` (private to the crate), fan-out 4.
fn rnnlab_split(x: Tensor<3>) -> Vec<Tensor<2>> {
    let len = x.dims()[0];
    if len <= 4 {
        return (0..len)
            .map(|t| x.clone().narrow(0, t, 1).squeeze_dim(0))
            .collect();
    }
    let chunk = len.div_ceil(4);
    (0..len)
        .step_by(chunk)
        .flat_map(|s| rnnlab_split(x.clone().narrow(0, s, chunk.min(len - s))))
        .collect()
}

fn main() {
    let device = Device::flex();
    let (b, h, g) = (32usize, 256usize, 1024usize);
    let r = |s: [usize; 2]| Tensor::<2>::random(s, Distribution::Uniform(-1.0, 1.0), &device);
    let (x, w, hs, gates) = (r([b, h]), r([h, g]), r([b, h]), r([b, g]));
    let wt = r([g, h]).transpose();
    let big = Tensor::<3>::random([100, b, g], Distribution::Uniform(-1.0, 1.0), &device);
    bench("matmul [32,256]x[256,1024]", &device, 200, || {
        let _ = x.clone().matmul(w.clone()).into_data();
    });
    bench(
        "matmul [32,256]x[256,1024] (transposed view)",
        &device,
        200,
        || {
            let _ = x.clone().matmul(wt.clone()).into_data();
        },
    );
    bench("matmul [256,32]x[32,1024] (dW)", &device, 200, || {
        let _ = x.clone().transpose().matmul(gates.clone()).into_data();
    });
    bench("matmul [3200,256]x[256,1024]", &device, 5, || {
        let _ = big
            .clone()
            .reshape([3200, g])
            .narrow(1, 0, h)
            .matmul(w.clone())
            .into_data();
    });
    let xt_contig = r([h, b]);
    bench(
        "matmul [256,32]x[32,1024] (contiguous lhs)",
        &device,
        200,
        || {
            let _ = xt_contig.clone().matmul(gates.clone()).into_data();
        },
    );
    bench("matmul [1024,32]ᵀview x[32,256]", &device, 200, || {
        let _ = gates.clone().transpose().matmul(x.clone()).into_data();
    });
    bench("matmul [32,1024]x[1024,256] (dh)", &device, 200, || {
        let _ = gates.clone().matmul(w.clone().transpose()).into_data();
    });
    bench("zeros [256,1024]", &device, 200, || {
        let _ = Tensor::<2>::zeros([h, g], &device).into_data();
    });
    bench("add [256,1024]", &device, 200, || {
        let _ = (w.clone() + w.clone()).into_data();
    });
    bench("add [32,1024]", &device, 200, || {
        let _ = (gates.clone() + gates.clone()).into_data();
    });
    bench("mul_scalar [32,1024]", &device, 200, || {
        let _ = gates.clone().mul_scalar(2.0).into_data();
    });
    bench("sigmoid [32,1024]", &device, 200, || {
        let _ = sigmoid(gates.clone()).into_data();
    });
    bench("tanh [32,1024]", &device, 200, || {
        let _ = gates.clone().tanh().into_data();
    });
    bench("exp [32,1024]", &device, 200, || {
        let _ = gates.clone().exp().into_data();
    });
    bench("mul [32,256]", &device, 200, || {
        let _ = (hs.clone() * hs.clone()).into_data();
    });
    bench("zeros [100,32,1024]", &device, 20, || {
        let _ = Tensor::<3>::zeros([100, b, g], &device).into_data();
    });
    bench("stack 100 x [32,256]", &device, 20, || {
        let _ = Tensor::stack::<3>(vec![hs.clone(); 100], 0).into_data();
    });
    let ad = device.clone().autodiff();
    let wa = Tensor::<2>::random([h, g], Distribution::Uniform(-1.0, 1.0), &ad).require_grad();
    let xa = Tensor::<2>::random([b, h], Distribution::Uniform(-1.0, 1.0), &ad).require_grad();
    // Layouts of the recurrent matmul, forward + backward (grads for h and W) per step.
    let w_hh = Tensor::<2>::random([g, h], Distribution::Uniform(-1.0, 1.0), &ad).require_grad(); // [4H, H]
    let h_row = Tensor::<2>::random([b, h], Distribution::Uniform(-1.0, 1.0), &ad).require_grad(); // [B, H]
    let h_col = Tensor::<2>::random([h, b], Distribution::Uniform(-1.0, 1.0), &ad).require_grad(); // [H, B]
    let up_row = Tensor::<2>::random([b, g], Distribution::Uniform(-1.0, 1.0), &ad);
    let up_col = Tensor::<2>::random([g, b], Distribution::Uniform(-1.0, 1.0), &ad);
    bench("fwd+bwd: h[B,H] · W_hhᵀ(view)", &ad, 50, || {
        let _ = (h_row.clone().matmul(w_hh.clone().transpose()) * up_row.clone())
            .sum()
            .backward();
    });
    bench("fwd+bwd: (W_hh · h[B,H]ᵀ(view))ᵀ", &ad, 50, || {
        let _ = (w_hh.clone().matmul(h_row.clone().transpose()).transpose() * up_row.clone())
            .sum()
            .backward();
    });
    bench("fwd+bwd: W_hh · h[H,B] (column layout)", &ad, 50, || {
        let _ = (w_hh.clone().matmul(h_col.clone()) * up_col.clone())
            .sum()
            .backward();
    });
    let w_t = Tensor::<2>::random([h, g], Distribution::Uniform(-1.0, 1.0), &ad).require_grad(); // [H, 4H]
    bench("fwd+bwd: h[B,H] · W[H,4H] (contiguous)", &ad, 50, || {
        let _ = (h_row.clone().matmul(w_t.clone()) * up_row.clone())
            .sum()
            .backward();
    });
    bench("fwd+bwd: (W[H,4H]ᵀ(view) · h[H,B])", &ad, 50, || {
        let _ = (w_t.clone().transpose().matmul(h_col.clone()) * up_col.clone())
            .sum()
            .backward();
    });
    bench(
        "fwd only (ad): h[B,H] · W_hhᵀ(view) * up",
        &ad,
        50,
        || {
            let _ = (h_row.clone().matmul(w_hh.clone().transpose()) * up_row.clone())
                .sum()
                .into_data();
        },
    );
    let p_all =
        Tensor::<3>::random([100, b, g], Distribution::Uniform(-1.0, 1.0), &ad).require_grad();
    bench("split_time [100,32,1024] + backward", &ad, 5, || {
        let steps: Vec<Tensor<2>> = rnnlab_split(p_all.clone());
        let total = steps
            .into_iter()
            .map(|s| s.sum())
            .reduce(|a, b| a + b)
            .unwrap();
        let _ = total.backward();
    });
    bench("direct narrow [100,32,1024] + backward", &ad, 5, || {
        let total = (0..100)
            .map(|t| p_all.clone().narrow(0, t, 1).sum())
            .reduce(|a, b| a + b)
            .unwrap();
        let _ = total.backward();
    });
    bench(
        "autodiff: 100 x (x·W, sigmoid) then backward",
        &ad,
        5,
        || {
            let mut acc = Tensor::<2>::zeros([b, g], &ad);
            for _ in 0..100 {
                acc = acc + sigmoid(xa.clone().matmul(wa.clone()));
            }
            let _ = acc.sum().backward();
        },
    );
}
