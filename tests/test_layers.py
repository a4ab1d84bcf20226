"""Pure layer builders: the offline style, the view fitting, the privacy of what is drawn."""
import json

from layers.basemap import map_style, view_for_bounds
from township.domain.privacy import mask_name, mask_phone, shown_phone


def test_default_style_names_no_outside_url():
    text = json.dumps(map_style())
    assert "http" not in text and "mapbox" not in text
    assert map_style()["glyphs"].startswith("/assets/")


def test_configured_raster_layer():
    style = map_style("http://tiles.intranet/{z}/{x}/{y}.png", "天地图")
    assert style["sources"]["base"]["tiles"] == ["http://tiles.intranet/{z}/{x}/{y}.png"]
    assert [layer["id"] for layer in style["layers"]] == ["land", "base"]


def test_view_fits_smaller_areas_with_more_zoom():
    town_center, town_zoom = view_for_bounds((111.05, 39.93, 111.44, 40.22))
    village_center, village_zoom = view_for_bounds((111.30, 40.10, 111.34, 40.13))
    assert 9 < town_zoom < 11 and village_zoom > town_zoom + 2
    assert abs(town_center["lon"] - 111.245) < 1e-9


def test_masks():
    assert mask_name("张三丰") == "张**" and mask_name("李") == "*"
    assert mask_phone("13812341234") == "138****1234"
    assert shown_phone("13812341234", "wall") == "138****1234"
    assert shown_phone("13812341234", "command") == "13812341234"
    assert shown_phone("13812341234", "nobody") == "138****1234"
