//! Ranking metrics of anomaly scores against binary labels: ROC AUC and average precision,
//! with tied scores handled as scikit-learn does (one curve point per distinct score).

use iops_core::{finite, Error, Result};

/// Cumulative (true positives, false positives) at each distinct score, highest first,
/// with the totals of positives and negatives.
struct Curve {
    points: Vec<(f64, f64)>,
    positives: f64,
    negatives: f64,
}

fn curve(scores: &[f64], labels: &[bool]) -> Result<Curve> {
    if labels.len() != scores.len() {
        return Err(Error::Shape {
            name: "labels",
            expected: scores.len(),
            got: labels.len(),
        });
    }
    for &s in scores {
        finite("scores", s)?;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        let (sa, sb) = (scores.get(a).copied(), scores.get(b).copied());
        sb.unwrap_or(0.0).total_cmp(&sa.unwrap_or(0.0))
    });
    let mut points = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        if labels.get(i).copied().unwrap_or(false) {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let here = scores.get(i).copied();
        let next = order.get(k + 1).and_then(|&j| scores.get(j).copied());
        if next != here {
            points.push((tp, fp));
        }
    }
    let (p, n) = (tp, fp);
    if p == 0.0 {
        return Err(Error::Evaluation {
            what: "labels".into(),
            reason: "no positive (anomalous) label".into(),
        });
    }
    Ok(Curve {
        points,
        positives: p,
        negatives: n,
    })
}

/// Area under the ROC curve (trapezoidal, like `sklearn.metrics.roc_auc_score`). Needs at
/// least one positive and one negative label.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    let Curve {
        points,
        positives: p,
        negatives: n,
    } = curve(scores, labels)?;
    if n == 0.0 {
        return Err(Error::Evaluation {
            what: "labels".into(),
            reason: "no negative (normal) label".into(),
        });
    }
    let (mut area, mut prev_tp, mut prev_fp) = (0.0, 0.0, 0.0);
    for (tp, fp) in points {
        area += (fp - prev_fp) * (tp + prev_tp) / 2.0;
        prev_tp = tp;
        prev_fp = fp;
    }
    Ok(area / (p * n))
}

/// Average precision, `Σ (R_k − R_{k−1}) · P_k` over distinct scores (no interpolation, like
/// `sklearn.metrics.average_precision_score`). Needs at least one positive label.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64> {
    let Curve {
        points,
        positives: p,
        ..
    } = curve(scores, labels)?;
    let (mut ap, mut prev_recall) = (0.0, 0.0);
    for (tp, fp) in points {
        let recall = tp / p;
        ap += (recall - prev_recall) * (tp / (tp + fp));
        prev_recall = recall;
    }
    Ok(ap)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed with scikit-learn 1.x (roc_auc_score / average_precision_score).
    #[test]
    fn matches_sklearn_on_small_cases() {
        let s = [0.1, 0.4, 0.35, 0.8];
        let y = [false, false, true, true];
        assert!((roc_auc(&s, &y).unwrap() - 0.75).abs() < 1e-12);
        assert!((average_precision(&s, &y).unwrap() - 0.833_333_333_333_333_3).abs() < 1e-12);
    }

    #[test]
    fn ties_count_half() {
        // All scores tied: AUC 0.5, AP = prevalence.
        let s = [0.5; 4];
        let y = [true, false, false, false];
        assert!((roc_auc(&s, &y).unwrap() - 0.5).abs() < 1e-12);
        assert!((average_precision(&s, &y).unwrap() - 0.25).abs() < 1e-12);
        // One positive tied with one negative at the top: AUC = (1 + 1 + 0.5) / 3.
        let s = [0.9, 0.9, 0.1, 0.2];
        let y = [true, false, false, false];
        assert!((roc_auc(&s, &y).unwrap() - 2.5 / 3.0).abs() < 1e-12);
        assert!((average_precision(&s, &y).unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn perfect_and_reversed() {
        let s = [1.0, 2.0, 3.0, 4.0];
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&s, &y).unwrap(), 1.0);
        assert_eq!(average_precision(&s, &y).unwrap(), 1.0);
        let y = [true, true, false, false];
        assert_eq!(roc_auc(&s, &y).unwrap(), 0.0);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        assert!(matches!(
            roc_auc(&[1.0], &[true, false]),
            Err(Error::Shape { name: "labels", .. })
        ));
        assert!(matches!(
            roc_auc(&[1.0, f64::NAN], &[true, false]),
            Err(Error::NonFinite { .. })
        ));
        assert!(roc_auc(&[1.0, 2.0], &[true, true]).is_err());
        assert!(average_precision(&[1.0, 2.0], &[false, false]).is_err());
        assert!(roc_auc(&[], &[]).is_err());
    }
}
