"""The score chart both sides draw puts each score at its place on the spec's 0-100 scale."""
from common.score_chart import Palette, score_chart, score_chart_svg
from contract.categories import BANDS


def test_scores_land_in_their_category_band_and_time_runs_left_to_right():
    chart = score_chart([("2026-01-01T00:00:00Z", 45), ("2026-01-08T00:00:00.000Z", 87)], BANDS)
    bands = {band["name"]: band for band in chart["bands"]}
    first, second = chart["dots"]
    assert first["x"] < second["x"]
    hot = bands["hot"]
    assert hot["y"] <= second["y"] <= hot["y"] + hot["h"]
    cool = bands["cool"]
    assert cool["y"] <= first["y"] <= cool["y"] + cool["h"]


def test_no_points_no_chart_and_a_bad_time_does_not_raise():
    assert score_chart([], BANDS) is None
    assert len(score_chart([("not a time", 10), ("2026-01-01T00:00:00Z", 20)], BANDS)["dots"]) == 2


def test_band_edges_are_the_contracts():
    chart = score_chart([("2026-01-01T00:00:00Z", 79), ("2026-01-02T00:00:00Z", 80)], BANDS)
    warm, hot = (next(b for b in chart["bands"] if b["name"] == name) for name in ("warm", "hot"))
    at_79, at_80 = chart["dots"]
    assert warm["y"] < at_79["y"] <= warm["y"] + warm["h"]
    assert hot["y"] <= at_80["y"] <= hot["y"] + hot["h"]
    assert [t["v"] for t in chart["ticks"]] == [0, 40, 60, 80, 100]


def test_the_svg_draws_every_score_in_the_servers_colours_and_escapes_labels():
    palette = Palette(line="#123456", grid="#abcdef")
    svg = str(score_chart_svg([("2026-01-01T00:00:00Z", 45), ("<b>2026</b>", 87)], BANDS, palette))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<circle") == 2 and 'stroke="#123456"' in svg and 'stroke="#abcdef"' in svg
    assert "<title>2026-01-01T00:00:00Z: 45</title>" in svg
    assert "<b>" not in svg and "&lt;b&gt;2026&lt;/b&gt;: 87" in svg
    assert score_chart_svg([], BANDS, palette) is None
