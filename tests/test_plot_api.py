"""A forest plot of your own data: forest_plot(res), res.plot_forest(ax=None), analysis.forest_plot."""

import io

import pytest
from conftest import PRITZ_N, PRITZ_X

import analysis
from analysis import pool_proportions


@pytest.fixture(scope="module")
def res():
    return pool_proportions(PRITZ_X[:6], PRITZ_N[:6], study_ids=[f"s{i}" for i in range(6)])


def svg(fig) -> bytes:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "test"
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def test_forest_plot_takes_the_result_object_or_its_dict(res):
    from analysis.present.plotting import forest_plot

    assert svg(forest_plot(res)) == svg(forest_plot(res.to_dict()))


def test_plot_forest_returns_the_figure_statsmodels_style(res):
    from matplotlib.figure import Figure

    fig = res.plot_forest()
    assert isinstance(fig, Figure)
    assert svg(fig) == svg(analysis.forest_plot(res))
    assert any(t.get_text() == "s3" for t in fig.findobj(lambda a: hasattr(a, "get_text")))


def test_plot_forest_draws_into_a_given_axes(res):
    from matplotlib.figure import Figure

    host = Figure(figsize=(12, 6))
    ax = host.add_axes((0.35, 0.2, 0.3, 0.7))
    fig = res.plot_forest(ax=ax)
    assert fig is host
    assert ax.has_data()


def test_forest_plot_is_exported_lazily():
    assert "forest_plot" in analysis.__all__
    from analysis.present.plotting import forest_plot

    assert analysis.forest_plot is forest_plot
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        analysis.nope  # noqa: B018
