"""The class names shipped with the package."""

from __future__ import annotations

import pytest

from transformers_videoswin.checkpoints import ConversionError
from transformers_videoswin.checkpoints.labels import LABEL_SETS, label_set_from_name, labels_for_head, load_labels
from transformers_videoswin.checkpoints.released import RELEASED_CHECKPOINTS


@pytest.mark.parametrize(("label_set", "count"), [("kinetics400", 400), ("kinetics600", 600), ("ssv2", 174)])
def test_counts_and_uniqueness(label_set, count):
    labels = load_labels(label_set)
    assert len(labels) == count == LABEL_SETS[label_set]
    assert len(set(labels)) == count and all(name == name.strip() and name for name in labels)


def test_known_positions():
    k400, k600, ssv2 = (load_labels(name) for name in ("kinetics400", "kinetics600", "ssv2"))
    assert (k400[0], k400[-1]) == ("abseiling", "zumba")
    assert (k600[1], k600[-1]) == ("acting in play", "zumba")
    assert (ssv2[0], ssv2[-1]) == ("Approaching something with your camera", "Wiping something off of something")


def test_kinetics400_order_equals_torchvision():
    from torchvision.models._meta import _KINETICS400_CATEGORIES

    assert list(load_labels("kinetics400")) == list(_KINETICS400_CATEGORIES)


def test_every_released_file_name_selects_its_label_set():
    for checkpoint in RELEASED_CHECKPOINTS:
        assert label_set_from_name(checkpoint.filename) == checkpoint.label_set
    assert label_set_from_name("my_run/epoch_30.pth") is None


def test_labels_for_head():
    assert labels_for_head("none", 5) is None
    assert labels_for_head("ssv2", 174)[173] == "Wiping something off of something"
    with pytest.raises(ConversionError, match="5 classes"):
        labels_for_head("ssv2", 5)
    with pytest.raises(ConversionError, match="Unknown label set"):
        labels_for_head("ucf101", 101)
