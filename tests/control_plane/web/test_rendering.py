"""The pieces pages are drawn from: chart geometry, the OpenAPI reading, money and price formats."""

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api_direct.control_plane.web.charts import HEIGHT, grouped_bars
from api_direct.control_plane.web.openapi_view import example_path, operations
from api_direct.control_plane.web.rendering import money, price

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
KEYS = st.sampled_from(
    [
        "paths",
        "get",
        "post",
        "parameters",
        "responses",
        "$ref",
        "name",
        "in",
        "schema",
        "type",
        "anyOf",
        "#/components/x",
        "components",
        "/a/{b}",
        "summary",
        "description",
        "200",
    ]
)
OPENAPI_LIKE = st.recursive(
    st.none() | st.text(max_size=6) | KEYS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=40,
)


def test_bars_share_one_round_scale_and_stand_on_the_baseline() -> None:
    chart = grouped_bars(["11-30", "12-01"], {"calls": [0, 233], "billable": [0, 200], "errors": [0, 33]})
    assert [tick.value for tick in chart.ticks] == [0, 60, 120, 180, 240]
    by_value = {bar.value: bar for bar in chart.bars}
    assert by_value[0].height == 0
    assert abs(by_value[233].height / by_value[200].height - 233 / 200) < 1e-9
    assert all(abs(bar.y + bar.height - chart.baseline) < 1e-9 for bar in chart.bars)
    # Within a day the series stand side by side, never overlapping.
    day = [bar for bar in chart.bars if bar.label == "12-01"]
    assert all(a.x + a.width <= b.x + 1e-9 for a, b in zip(day, day[1:], strict=False))


def test_a_chart_without_calls_still_has_a_scale() -> None:
    chart = grouped_bars(["12-01"], {"calls": [0]})
    assert [tick.value for tick in chart.ticks] == [0, 1, 2, 3, 4] and chart.bars[0].height == 0


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30))
def test_no_bar_leaves_the_drawing(values: list[int]) -> None:
    chart = grouped_bars([str(i) for i in range(len(values))], {"calls": values})
    assert chart.ticks[-1].value >= max(values)
    assert all(
        0 <= bar.y <= HEIGHT and bar.height >= 0 and bar.x + bar.width <= chart.width + 1e-6 for bar in chart.bars
    )


def test_operations_follow_local_refs_and_list_parameters() -> None:
    document: dict[str, Any] = {
        "paths": {
            "/cities": {"get": {"summary": "All cities", "responses": {"200": {"description": "ok"}}}},
            "/current/{city}": {
                "parameters": [{"$ref": "#/components/parameters/City"}],
                "get": {"responses": {"404": {"$ref": "#/components/responses/Missing"}}},
            },
        },
        "components": {
            "parameters": {"City": {"name": "city", "in": "path", "required": True, "schema": {"type": "string"}}},
            "responses": {"Missing": {"description": "no such city"}},
        },
    }
    found = operations(document)
    assert [(op.method, op.path, op.summary) for op in found] == [
        ("GET", "/cities", "All cities"),
        ("GET", "/current/{city}", ""),
    ]
    assert found[1].parameters[0].name == "city" and found[1].parameters[0].required
    assert found[1].responses == (("404", "no such city"),)
    assert example_path(document) == "/cities"
    assert found[1].anchor == "op-GET-current--city"


@given(OPENAPI_LIKE)
def test_any_document_renders_without_an_error(document: Any) -> None:
    """A listing's document is the creator's input: whatever it holds, the page renders."""
    if isinstance(document, dict):
        operations(document)
        example_path(document)


@given(JSON)
def test_any_json_at_all_renders_too(value: Any) -> None:
    operations({"paths": value, "components": value})


def test_money_and_prices_read_as_people_write_them() -> None:
    assert money(1520, "usd") == "15.20 USD" and money(None, "usd") == "—" and money(123456, "eur") == "1,234.56 EUR"
    assert [price(Decimal(v)) for v in ("0", "0.4", "19", "0.0125")] == ["0.00", "0.40", "19.00", "0.0125"]
