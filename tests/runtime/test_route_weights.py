from api_direct.contracts import ROUTE_WEIGHTS_ENV
from api_direct.project import RouteWeight
from api_direct.runtime.route_weights import RouteWeights, resource_path


def test_a_rest_of_path_parameter_is_a_greedy_resource() -> None:
    assert resource_path("/files/{name:path}") == "/files/{name+}"
    assert resource_path("/forecast/{city}") == "/forecast/{city}"


def test_the_first_route_that_matches_wins_and_others_count_one() -> None:
    weights = RouteWeights.of(
        [
            RouteWeight(path="/forecast/{city}", methods=("POST",), weight=7),
            RouteWeight(path="/forecast/{city}", weight=5),
            RouteWeight(path="/files/{name:path}", weight=0),
        ]
    )
    assert weights.weight_of("post", "/forecast/{city}") == 7
    assert weights.weight_of("GET", "/forecast/{city}") == 5
    assert weights.weight_of("GET", "/files/{name+}") == 0
    assert weights.weight_of("GET", "/files/{name:path}") == 0  # apid dev logs the app's own template
    assert weights.weight_of("GET", "/{proxy+}") == 1


def test_the_environment_carries_the_weights_and_their_absence_is_none() -> None:
    weights = RouteWeights.of([RouteWeight(path="/a/{b:path}", methods=("GET", "HEAD"), weight=3)])
    assert RouteWeights.from_environment({ROUTE_WEIGHTS_ENV: weights.to_json()}) == weights
    assert RouteWeights.from_environment({}) == RouteWeights()
