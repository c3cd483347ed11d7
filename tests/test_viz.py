"""The figure check that keeps blank figures off the pages."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dalnb.viz import _display_checked, empty_axes  # noqa: E402


def test_an_axes_drawn_after_the_figure_was_shown_is_named_empty():
    fig, axes = plt.subplots(1, 3)
    axes[0].plot([0, 1], [1, 2])
    axes[1].set_title("drawn in the next cell")
    axes[2].imshow([[0, 1], [1, 0]])
    assert empty_axes(fig) == ["drawn in the next cell"]
    axes[1].scatter([0], [0])
    assert empty_axes(fig) == []
    plt.close(fig)


def test_axes_switched_off_are_not_counted_and_untitled_ones_are_named_by_position():
    fig, axes = plt.subplots(2, 2)
    axes[0, 0].bar([0], [1])
    axes[0, 1].axis("off")
    axes[1, 0].plot([0], [0])
    assert empty_axes(fig) == ["axes 4 of 4"]
    plt.close(fig)


def test_the_checked_display_writes_the_empty_axes_into_the_output_metadata():
    seen = []
    show = _display_checked(lambda obj, metadata=None: seen.append(metadata))
    fig, ax = plt.subplots()
    show(fig, metadata={"a": 1})
    show("not a figure")
    assert seen == [{"a": 1, "dalnb_empty_axes": ["axes 1 of 1"]}, None]
    plt.close(fig)
