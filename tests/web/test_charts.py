"""The overview's SVG charts (issue 15): well-formed, escaped, one hover text per bar, a summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from entrepot.web.charts import Bar, bar_chart, count_text, nice_ceiling, size_text

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def test_a_chart_is_a_figure_with_an_accessible_svg_and_a_summary() -> None:
    bars = [Bar(f"hour {i}", float(i), tick=str(i) if i % 2 == 0 else None) for i in range(6)]
    figure = _parse(bar_chart("Files per hour", bars, ident="files"))
    assert figure.tag == "figure"
    svg = figure.find(f"{SVG}svg")
    assert svg is not None and svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "files-title files-desc"
    assert svg.find(f"{SVG}title").text == "Files per hour"  # type: ignore[union-attr]
    rects = svg.findall(f"{SVG}rect")
    assert len(rects) == 6
    assert [r.find(f"{SVG}title").text for r in rects][-1] == "hour 5: 5"  # type: ignore[union-attr]
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert labels == ["0", "2.5", "5", "0", "2", "4"]  # y axis 0, half, top; then x ticks
    caption = figure.find("figcaption")
    assert caption is not None
    assert caption.text == "Files per hour: 15 in all over 6 bars; the highest is hour 5 with 5."


def test_the_tallest_bar_fills_the_plot_and_heights_follow_the_values() -> None:
    figure = _parse(bar_chart("t", [Bar("a", 25.0), Bar("b", 50.0)], ident="x"))
    heights = [float(r.get("height", "0")) for r in figure.iter(f"{SVG}rect")]
    assert heights[1] == pytest.approx(2 * heights[0], rel=0.01)


def test_names_are_escaped_everywhere() -> None:
    hostile = '<script>alert("x")</script>&'
    markup = bar_chart(hostile, [Bar(hostile, 1.0, tick=hostile)], ident='a"b')
    assert "<script>" not in markup
    assert 'id="a&#34;b"' in markup
    root = _parse(markup)  # still well-formed
    assert root.find("figcaption").text.startswith(hostile)  # type: ignore[union-attr]


def test_bars_without_data_are_shown_and_said() -> None:
    figure = _parse(
        bar_chart("Depth", [Bar("a", None), Bar("b", 3.0)], ident="d", cumulative=False)
    )
    rects = list(figure.iter(f"{SVG}rect"))
    assert rects[0].get("class") == "chart-bar chart-empty"
    assert rects[0].find(f"{SVG}title").text == "a: no data"  # type: ignore[union-attr]
    caption = figure.find("figcaption").text  # type: ignore[union-attr]
    assert caption == "Depth: 3 at b; the highest is b with 3; 1 without data."


def test_nothing_at_all() -> None:
    figure = _parse(bar_chart("Empty", [], ident="e"))
    assert figure.find("figcaption").text == "Empty: no data."  # type: ignore[union-attr]
    zeros = _parse(bar_chart("Zeros", [Bar("a", 0.0)], ident="z"))
    assert "every bar is zero" in zeros.find("figcaption").text  # type: ignore[union-attr,operator]


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (0.3, 0.5), (1, 1), (7, 10), (12, 20), (21, 25), (240, 250), (251, 500), (1e9, 1e9)],
)
def test_the_scale_tops_at_a_round_number(value: float, top: float) -> None:
    assert nice_ceiling(value) == pytest.approx(top)


def test_unit_texts() -> None:
    assert count_text(12345) == "12,345"
    assert count_text(2.5) == "2.5"
    assert size_text(512) == "512 B"
    assert size_text(1536) == "1.5 KiB"
    assert size_text(3 * 1024**3) == "3.0 GiB"
