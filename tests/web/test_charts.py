"""The SVG trend chart."""

from app.web.charts import trend_chart


def test_trend_chart_draws_bars_and_a_line_and_escapes_text():
    """One bar and one point per month; text is escaped."""
    svg = str(trend_chart(["2026-01", "2026-02"], [4, 8], [2, 6], "<标题>", "上报", "归档"))
    assert svg.startswith("<svg") and svg.count("<rect") == 3  # two bars and the key
    assert svg.count("<circle") == 2 and "<polyline" in svg
    assert "&lt;标题&gt;" in svg and "<标题>" not in svg


def test_trend_chart_without_data_still_renders():
    """An empty period gives an empty chart, not an error."""
    assert "<svg" in str(trend_chart([], [], [], "t", "a", "b"))
