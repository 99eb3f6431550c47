//! Early stopping on the validation loss over every epoch of a run, a resumed run's earlier
//! epochs included. burn-train's own strategy keeps its best epoch in memory, so after a
//! resume it started counting afresh and a resumed run could train past the epoch where the
//! uninterrupted run stopped; this one reads every epoch's mean from the metric store (which
//! answers for the epochs before a resume from `metrics.csv`), so both stop at the same epoch,
//! and `resume` can tell a run that had stopped from one that was killed while training.

use burn::train::EarlyStoppingStrategy;
use burn::train::metric::store::{Aggregate, EventStoreClient, Split};

/// Whether a run whose validation losses per epoch are `losses` (epoch 1 first) stops after
/// the last of them: `patience` epochs or more since the best (the first lowest) one.
pub fn no_improvement(losses: &[f64], patience: usize) -> bool {
    let best = losses
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i);
    match best {
        Some(best) => patience > 0 && losses.len() - 1 - best >= patience,
        None => false,
    }
}

/// Stops after `patience` epochs without a lower validation loss.
#[derive(Clone, Debug)]
pub struct ValidLossPatience {
    /// Epochs without improvement before stopping.
    pub patience: usize,
}

impl EarlyStoppingStrategy for ValidLossPatience {
    fn should_stop(&mut self, epoch: usize, store: &EventStoreClient) -> bool {
        let losses: Vec<f64> = (1..=epoch)
            .map_while(|e| store.find_metric("Loss", e, Aggregate::Mean, &Split::Valid))
            .collect();
        losses.len() == epoch && no_improvement(&losses, self.patience)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patience_counts_from_the_first_lowest_loss() {
        assert!(!no_improvement(&[3.0, 2.0, 2.5], 2));
        assert!(
            no_improvement(&[3.0, 2.0, 2.5, 2.0], 2),
            "a tie is no improvement"
        );
        assert!(!no_improvement(&[3.0, 2.0, 2.5, 1.9], 2));
        assert!(no_improvement(&[3.0, f64::NAN, 3.5], 2));
        assert!(!no_improvement(&[], 2));
        assert!(!no_improvement(&[3.0, 4.0, 5.0], 0), "0 = never");
    }
}
