"""The evaluation metrics against values worked out by hand."""

from __future__ import annotations

import pytest

from media_analysis.evaluation.metrics import bin_index, decisions, reliability_table, roc_auc


def test_auc_counts_the_fake_real_pairs_a_model_orders_right_with_ties_as_half():
    # Fakes 0.9, 0.6, 0.4 against reals 0.7, 0.4, 0.1: 0.9 beats all three (3), 0.6 beats two
    # (2), 0.4 beats 0.1 and ties 0.4 (1.5): 6.5 of 9 pairs.
    auc = roc_auc(
        probabilities=[0.9, 0.7, 0.6, 0.4, 0.4, 0.1],
        is_fake=[True, False, True, True, False, False],
    )

    assert auc == pytest.approx(6.5 / 9)


@pytest.mark.parametrize(
    ("probabilities", "is_fake", "auc"),
    [
        ([0.9, 0.8, 0.2, 0.1], [True, True, False, False], 1.0),
        ([0.9, 0.8, 0.2, 0.1], [False, False, True, True], 0.0),
        # The same answer for everything separates nothing.
        ([0.8, 0.8, 0.8, 0.8], [True, False, True, False], 0.5),
        ([0.8, 0.3], [True, True], None),
        ([], [], None),
    ],
)
def test_auc_at_its_bounds_and_without_both_classes(probabilities, is_fake, auc):
    assert roc_auc(probabilities=probabilities, is_fake=is_fake) == auc


def test_accuracy_precision_and_recall_take_fake_as_the_positive_class():
    # Two true positives, one false positive, one true negative, one false negative.
    decided = decisions(
        predicted_fake=[True, True, False, False, True], is_fake=[True, False, False, True, True]
    )

    assert decided.accuracy == pytest.approx(3 / 5)
    assert decided.precision == pytest.approx(2 / 3)
    assert decided.recall == pytest.approx(2 / 3)


def test_ratios_without_items_are_none():
    never_fake = decisions(predicted_fake=[False, False], is_fake=[True, False])
    no_fakes = decisions(predicted_fake=[True, False], is_fake=[False, False])

    assert (never_fake.accuracy, never_fake.precision, never_fake.recall) == (0.5, None, 0.0)
    assert (no_fakes.accuracy, no_fakes.precision, no_fakes.recall) == (0.5, 0.0, None)
    assert decisions(predicted_fake=[], is_fake=[]).accuracy is None


def test_the_reliability_table_bins_probabilities_with_the_last_bin_closed():
    table = reliability_table(
        probabilities=[0.05, 0.2, 0.39, 0.6, 0.8, 1.0],
        is_fake=[False, False, True, True, False, True],
        bins=5,
    )

    assert [(row["lower"], row["upper"]) for row in table] == [
        (0.0, 0.2),
        (0.2, 0.4),
        (0.4, 0.6),
        (0.6, 0.8),
        (0.8, 1.0),
    ]
    assert [(row["count"], row["fakes"], row["observed_fake_rate"]) for row in table] == [
        (1, 0, 0.0),
        (2, 1, 0.5),
        (0, 0, None),
        (1, 1, 1.0),
        (2, 1, 0.5),
    ]
    means = [row["mean_predicted"] for row in table]
    assert means[2] is None
    assert means[:2] + means[3:] == pytest.approx([0.05, 0.295, 0.6, 0.9])


def test_bins_are_decided_on_the_values_as_written():
    # 0.6 * 5 is 3.0000000000000004 in binary floating point, 0.7 * 10 is 7.000000000000001.
    assert bin_index(0.6, bins=5) == 3
    assert bin_index(0.7, bins=10) == 7
    assert bin_index(0.19999999, bins=5) == 0
    assert bin_index(1.0, bins=5) == 4
