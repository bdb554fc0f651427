"""Coordinates in query parameters: finite WGS84 ranges everywhere, errors naming the parameter and the value."""

import pytest

CASES = [
    ("/api/layers/tapi?bbox=nan,24,70,30", "bbox", "nan"),
    ("/api/layers/tapi?bbox=1e300,24,70,30", "bbox", "1e+300"),
    ("/api/layers/tapi?bbox=60,24,70,95", "bbox", "95"),
    ("/api/layers/tapi?bbox=-500,24,70,30", "bbox", "-500"),
    ("/api/layers/tapi?bbox=60,-Infinity,70,30", "bbox", "-Infinity"),
    ("/api/nearest?lat=nan&lon=62", "lat", "nan"),
    ("/api/nearest?lat=25&lon=500", "lon", "500"),
    ("/api/nearest?lat=95&lon=62", "lat", "95"),
    ("/api/nearest?lat=25&lon=1e300", "lon", "1e300"),
    ("/api/nearest?place=95,62", "place", "95,62"),
    ("/api/route?from=25,1e300&to=Gwadar", "from", "1e300"),
    ("/api/route?from=Gwadar&to=inf,62", "to", "inf,62"),
    ("/api/route?from=-91,62&to=Gwadar", "from", "-91,62"),
    ("/api/corridor?feature=tapi:tapi_trunk&width_km=nan", "width_km", "nan"),
    ("/api/corridor?feature=tapi:tapi_trunk&width_km=1e300", "width_km", "1e+300"),
    ("/api/overlap?a=tapi:tapi_trunk&b=cpec:ml1_railway&width_km=-inf", "width_km", "-inf"),
]


@pytest.mark.parametrize("url, parameter, value", CASES)
def test_bad_coordinates_are_a_400_naming_parameter_and_value(client, url, parameter, value):
    response = client.get(url)
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["parameter"] == parameter
    assert value.lower() in body["error"].lower()


@pytest.mark.parametrize("url", ["/route?from=25,500&to=Gwadar", "/corridor?feature=tapi:tapi_trunk&width_km=nan"])
def test_pages_show_the_same_error(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "Parameter: <code>" in response.get_data(as_text=True)
