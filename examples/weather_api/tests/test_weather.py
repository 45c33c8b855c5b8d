"""The creator's own tests: API-Direct runs them in its suite as a real user project would."""

from fastapi.testclient import TestClient

from weather.main import app

client = TestClient(app)


def test_lists_cities_with_pagination() -> None:
    page = client.get("/cities", params={"limit": 5}).json()
    assert page["total"] == 40
    assert len(page["items"]) == 5


def test_filters_cities_by_country() -> None:
    page = client.get("/cities", params={"country": "us"}).json()
    assert {c["id"] for c in page["items"]} == {"chicago", "los-angeles", "new-york"}


def test_current_conditions_for_known_city() -> None:
    body = client.get("/current/london").json()
    assert body["city"]["name"] == "London"
    assert 0 <= body["humidity_pct"] <= 100


def test_forecast_days_and_bounds() -> None:
    body = client.get("/forecast/tokyo", params={"days": 3}).json()
    assert len(body["days"]) == 3
    assert all(day["low_c"] < day["high_c"] for day in body["days"])
    assert client.get("/forecast/tokyo", params={"days": 8}).status_code == 422


def test_unknown_city_is_404() -> None:
    response = client.get("/current/atlantis")
    assert response.status_code == 404
    assert "unknown city" in response.json()["detail"]
