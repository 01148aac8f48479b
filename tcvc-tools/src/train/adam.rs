// SPDX-License-Identifier: MIT
//! Adam on plain tensors, with a state that checkpoints can save and restore (tch's
//! `nn::Optimizer` keeps its state inside libtorch, out of reach).
//!
//! The update is `torch.optim.Adam`'s (single-tensor path, `amsgrad = False`, no weight decay),
//! per parameter with its own step count:
//!
//! ```text
//! m ← lerp(m, g, 1 − β₁)          v ← β₂ v + (1 − β₂) g²
//! p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! `m` and `v` start at zero; a parameter whose gradient is undefined is skipped, as torch does.
//!
//! Gradients are passed in (from `Tensor::run_backward`, i.e. `torch.autograd.grad`) rather
//! than read from `.grad`: no zeroing and no accumulation pass per step, the equivalent of
//! torch's `zero_grad(set_to_none=True)`. The update runs in place with one scratch buffer per
//! parameter (no allocation per step).
use super::error::{Result, TrainError};
use std::collections::{BTreeMap, HashMap};
use tch::Tensor;

/// Hyper-parameters of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// `β₁` (the paper: 0).
    pub beta1: f64,
    /// `β₂` (the paper: 0.999).
    pub beta2: f64,
    /// `ε` added to the denominator.
    pub eps: f64,
}

impl AdamConfig {
    /// The paper's betas `(0, 0.999)` and torch's `ε = 1e-8` with learning rate `lr`.
    pub fn paper(lr: f64) -> Self {
        AdamConfig {
            lr,
            beta1: 0.0,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

#[derive(Debug)]
struct Slot {
    name: String,
    param: Tensor,
    m: Tensor,
    v: Tensor,
    scratch: Tensor,
    step: u64,
}

/// Adam over named parameters (e.g. a `VarStore`'s trainable variables).
#[derive(Debug)]
pub struct Adam {
    config: AdamConfig,
    slots: Vec<Slot>,
}

impl Adam {
    /// An optimizer for `params` (`name`, tensor that requires grad), sorted by name so that the
    /// order never depends on a hash map.
    pub fn new(mut params: Vec<(String, Tensor)>, config: AdamConfig) -> Result<Self> {
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let mut slots = Vec::with_capacity(params.len());
        for (name, param) in params {
            let m = param.f_zeros_like()?.f_detach()?;
            let v = param.f_zeros_like()?.f_detach()?;
            let scratch = param.f_zeros_like()?.f_detach()?;
            slots.push(Slot {
                name,
                param,
                m,
                v,
                scratch,
                step: 0,
            });
        }
        Ok(Adam { config, slots })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> AdamConfig {
        self.config
    }

    /// Changes the learning rate (e.g. after a resume with a different `--lr-g`).
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// The parameters, in the order [`Adam::step`] expects their gradients.
    pub fn params(&self) -> Vec<Tensor> {
        self.slots.iter().map(|s| s.param.shallow_clone()).collect()
    }

    /// Sets `requires_grad` of every parameter (off while another network is optimised through
    /// this one, which skips recording what nobody differentiates).
    pub fn set_requires_grad(&self, on: bool) {
        for s in &self.slots {
            let _ = s.param.set_requires_grad(on);
        }
    }

    /// Gradients of `loss` with respect to the parameters (undefined for unused ones), without
    /// touching `.grad`.
    pub fn gradients(&self, loss: &Tensor) -> Result<Vec<Tensor>> {
        let params: Vec<&Tensor> = self.slots.iter().map(|s| &s.param).collect();
        Ok(Tensor::f_run_backward(&[loss], &params, false, false)?)
    }

    /// One update of every parameter whose gradient (same order as [`Adam::params`]) is defined.
    pub fn step(&mut self, grads: &[Tensor]) -> Result<()> {
        if grads.len() != self.slots.len() {
            return Err(TrainError::Runtime(format!(
                "Adam got {} gradients for {} parameters",
                grads.len(),
                self.slots.len()
            )));
        }
        let _guard = tch::no_grad_guard();
        let AdamConfig {
            lr,
            beta1,
            beta2,
            eps,
        } = self.config;
        for (s, grad) in self.slots.iter_mut().zip(grads) {
            if !grad.defined() {
                continue;
            }
            s.step += 1;
            let t = s.step as i32;
            let bias1 = 1.0 - beta1.powi(t);
            let bias2_sqrt = (1.0 - beta2.powi(t)).sqrt();
            let step_size = lr / bias1;
            // m ← lerp(m, g, 1 − β₁); v ← lerp(v, g², 1 − β₂) = β₂ v + (1 − β₂) g².
            let _ = s.m.f_lerp_(grad, 1.0 - beta1)?;
            let _ = grad.f_mul_out(&s.scratch, grad)?;
            let _ = s.v.f_lerp_(&s.scratch, 1.0 - beta2)?;
            // p ← p + m / d with d = −(√v / √(1 − β₂ᵗ) + ε) / step_size.
            let _ = s.v.f_sqrt_out(&s.scratch)?;
            let _ = s.scratch.f_div_scalar_(bias2_sqrt)?;
            let _ = s.scratch.f_add_scalar_(eps)?;
            let _ = s.scratch.f_mul_scalar_(-1.0 / step_size)?;
            let _ = s.param.f_addcdiv_(&s.m, &s.scratch)?;
        }
        Ok(())
    }

    /// The moment tensors as `(prefix + "m." + name, m)` and `(prefix + "v." + name, v)`.
    pub fn state_tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut v = Vec::with_capacity(2 * self.slots.len());
        for s in &self.slots {
            v.push((format!("{prefix}m.{}", s.name), s.m.shallow_clone()));
            v.push((format!("{prefix}v.{}", s.name), s.v.shallow_clone()));
        }
        v
    }

    /// Step count of every parameter.
    pub fn steps(&self) -> BTreeMap<String, u64> {
        self.slots
            .iter()
            .map(|s| (s.name.clone(), s.step))
            .collect()
    }

    /// Restores the moments (named as [`Adam::state_tensors`] with `prefix`) and step counts.
    pub fn load_state(
        &mut self,
        tensors: &HashMap<String, Tensor>,
        prefix: &str,
        steps: &BTreeMap<String, u64>,
    ) -> Result<()> {
        let _guard = tch::no_grad_guard();
        for s in &mut self.slots {
            for (kind, dst) in [("m", &mut s.m), ("v", &mut s.v)] {
                let key = format!("{prefix}{kind}.{}", s.name);
                let src = tensors.get(&key).ok_or_else(|| {
                    TrainError::Runtime(format!("the checkpoint has no optimizer state `{key}`"))
                })?;
                if src.size() != dst.size() {
                    return Err(TrainError::Runtime(format!(
                        "optimizer state `{key}` has shape {:?}, expected {:?}",
                        src.size(),
                        dst.size()
                    )));
                }
                dst.f_copy_(src)?;
            }
            s.step = *steps.get(&s.name).ok_or_else(|| {
                TrainError::Runtime(format!(
                    "the checkpoint has no optimizer step count for `{}`",
                    s.name
                ))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// torch.optim.Adam(betas=(0.9, 0.999)) on f(p) = sum(p²) from p = [1, -2], three steps,
    /// computed by hand from the update rule (m, v per element).
    #[test]
    fn matches_the_torch_update_rule() {
        let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
        let mut adam = Adam::new(
            vec![("p".into(), p.shallow_clone())],
            AdamConfig {
                lr: 0.1,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
        )
        .unwrap();
        let mut want = [1.0f64, -2.0];
        let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
        for t in 1..=3 {
            let g = adam.gradients(&(&p * &p).sum(Kind::Float)).unwrap();
            adam.step(&g).unwrap();
            for i in 0..2 {
                let g = 2.0 * want[i];
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let denom = (v[i]).sqrt() / (1.0 - 0.999f64.powi(t)).sqrt() + 1e-8;
                want[i] -= 0.1 / (1.0 - 0.9f64.powi(t)) * m[i] / denom;
            }
        }
        for (i, w) in want.iter().enumerate() {
            let got = p.double_value(&[i as i64]);
            assert!((got - w).abs() < 1e-5, "{i}: {got} vs {w}");
        }
        assert_eq!(adam.steps()["p"], 3);
    }

    #[test]
    fn state_round_trips() {
        let mk = || Tensor::ones([3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let (p, q) = (mk(), mk());
        let mut a = Adam::new(
            vec![("w".into(), p.shallow_clone())],
            AdamConfig::paper(0.01),
        )
        .unwrap();
        let mut b = Adam::new(
            vec![("w".into(), q.shallow_clone())],
            AdamConfig::paper(0.01),
        )
        .unwrap();
        let loss = |x: &Tensor| (x * x * 3.0).sum(Kind::Float);
        let g = a.gradients(&loss(&p)).unwrap();
        a.step(&g).unwrap();
        let saved: HashMap<String, Tensor> = a
            .state_tensors("o.")
            .into_iter()
            .map(|(k, t)| (k, t.copy()))
            .collect();
        tch::no_grad(|| q.shallow_clone().copy_(&p));
        b.load_state(&saved, "o.", &a.steps()).unwrap();
        for _ in 0..3 {
            let g = a.gradients(&loss(&p)).unwrap();
            a.step(&g).unwrap();
            let g = b.gradients(&loss(&q)).unwrap();
            b.step(&g).unwrap();
        }
        assert!(p.allclose(&q, 0.0, 0.0, false));
    }
}
