//! Gradient clipping by global norm (PyTorch's `clip_grad_norm_`): burn's `GradientClipping`
//! clips each tensor on its own, which changes the direction of the update; recurrent networks
//! need the global form.

use burn::Tensor;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;

/// Scales all gradients by `max_norm / (‖g‖ + 1e-6)` when their global L2 norm `‖g‖` exceeds
/// `max_norm`; returns the gradients and the norm before clipping.
pub fn clip_global_norm<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, f64) {
    let mut sum = SquaredSum {
        grads: &grads,
        total: 0.0,
    };
    module.visit(&mut sum);
    let norm = sum.total.sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        module.visit(&mut Scale {
            grads: &mut grads,
            coef,
        });
    }
    (grads, norm)
}

struct SquaredSum<'a> {
    grads: &'a GradientsParams,
    total: f64,
}

impl ModuleVisitor for SquaredSum<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.total += g.square().sum().into_scalar::<f64>();
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    coef: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register::<D>(param.id, g.mul_scalar(self.coef));
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::LinearConfig;
    use burn::prelude::Device;
    use burn::tensor::Distribution;

    use super::*;

    fn norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
        let mut sum = SquaredSum { grads, total: 0.0 };
        module.visit(&mut sum);
        sum.total.sqrt()
    }

    #[test]
    fn clips_the_global_norm_and_keeps_the_direction() {
        let device = Device::flex().autodiff();
        let layer = LinearConfig::new(4, 3).init(&device);
        let x = Tensor::<2>::random([5, 4], Distribution::Uniform(-1.0, 1.0), &device);
        let loss = (layer.forward(x) * 100.0).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        let before = norm(&layer, &grads);
        let weight_before = grads.get::<2>(layer.weight.id).unwrap();
        let (clipped, reported) = clip_global_norm(&layer, grads, 1.0);
        assert!((reported - before).abs() < 1e-6 * before);
        assert!(
            (norm(&layer, &clipped) - 1.0).abs() < 1e-4,
            "global norm is now 1"
        );
        let ratio = clipped.get::<2>(layer.weight.id).unwrap() / weight_before;
        let r: Vec<f32> = ratio.into_data().convert::<f32>().try_into_vec().unwrap();
        assert!(
            r.iter().all(|v| (v - r[0]).abs() < 1e-5),
            "one factor for every tensor"
        );
        // Under the limit nothing changes.
        let (same, _) = clip_global_norm(&layer, clipped, 10.0);
        assert!((norm(&layer, &same) - 1.0).abs() < 1e-4);
    }
}
