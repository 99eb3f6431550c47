//! Gradient clipping by global norm (PyTorch's `clip_grad_norm_`): burn's `GradientClipping`
//! clips each tensor on its own, which changes the direction of the update; recurrent networks
//! need the global form. [`gradients`] is the backward half of every task's `TrainStep`.

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
    let norm = global_norm(module, &grads);
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        module.visit(&mut Scale {
            grads: &mut grads,
            coef,
        });
    }
    (grads, norm)
}

/// The L2 norm of all of `module`'s gradients together (one device sync).
pub fn global_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut sum = SquaredSum { grads, total: None };
    module.visit(&mut sum);
    sum.total.map_or(0.0, |t| t.into_scalar::<f64>()).sqrt()
}

/// The backward pass of a training step: the gradients of `loss` for `module`, clipped to the
/// global norm `max_norm` (0 = no clipping). A non-finite loss or gradient norm gives empty
/// gradients, so the optimiser step leaves the weights as they were; the run's renderer sees
/// the non-finite loss and stops training, and the last good weights are what is kept.
pub fn gradients<M: Module>(module: &M, loss: &Tensor<1>, max_norm: f64) -> GradientsParams {
    let value = loss.clone().into_scalar::<f64>();
    if !value.is_finite() {
        return GradientsParams::new();
    }
    let grads = GradientsParams::from_grads(loss.backward(), module);
    if max_norm > 0.0 {
        let (grads, norm) = clip_global_norm(module, grads, max_norm);
        if norm.is_finite() {
            grads
        } else {
            GradientsParams::new()
        }
    } else {
        grads
    }
}

struct SquaredSum<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredSum<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
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
        global_norm(module, grads)
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

    #[test]
    fn a_non_finite_loss_gives_no_gradients() {
        let device = Device::flex().autodiff();
        let layer = LinearConfig::new(2, 1).init(&device);
        let x = Tensor::<2>::ones([1, 2], &device);
        let finite = layer.forward(x.clone()).sum();
        assert!(
            gradients(&layer, &finite, 0.0)
                .get::<2>(layer.weight.id)
                .is_some()
        );
        let nan = layer.forward(x).sum() * f32::NAN;
        assert!(
            gradients(&layer, &nan, 1.0)
                .get::<2>(layer.weight.id)
                .is_none()
        );
    }
}
