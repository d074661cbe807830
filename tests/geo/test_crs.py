"""GCJ-02 and BD-09 conversions."""

import pytest

from app.geo.crs import bd09_to_gcj02
from app.geo.crs import gcj02_to_wgs84
from app.geo.crs import to_wgs84
from app.geo.crs import wgs84_to_gcj02


def test_gcj02_offset_is_hundreds_of_metres_and_inverts():
    """The offset in Shandong is a few hundred metres; the inverse recovers WGS84 to 1e-8°."""
    lon, lat = wgs84_to_gcj02(118.05, 37.38)
    assert 0.002 < abs(lon - 118.05) + abs(lat - 37.38) < 0.02
    back = gcj02_to_wgs84(lon, lat)
    assert back == pytest.approx((118.05, 37.38), abs=1e-8)


def test_known_reference_point():
    """A published pair: WGS84 (116.391349, 39.907375) → GCJ-02 (116.397590, 39.908770)."""
    lon, lat = wgs84_to_gcj02(116.391349, 39.907375)
    assert (lon, lat) == pytest.approx((116.39759, 39.90877), abs=5e-5)


def test_outside_china_is_unchanged():
    """GCJ-02 applies no offset outside China."""
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)


def test_bd09_goes_through_gcj02():
    """BD-09 → GCJ-02 removes Baidu's extra offset (about 0.006°)."""
    glon, glat = bd09_to_gcj02(118.0565, 37.386)
    assert abs(glon - 118.05) < 0.001 and abs(glat - 37.38) < 0.001
    with pytest.raises(ValueError, match="unknown crs"):
        to_wgs84(1, 2, "epsg3857")
