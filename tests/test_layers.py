"""Pure layer builders: the offline style, the view fitting, the privacy of what is drawn, the map's names."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import shape

from layers import mapfig, maplabels
from layers.basemap import MAP_FONT, MAP_FONT_RANGES, map_style, view_for_bounds
from township.config import BUNDLED_GRIDS
from township.domain.filters import FilterState
from township.domain.privacy import mask_name, mask_phone, shown_phone
from township.domain.vocab import CASE_STATUS_COLORS, WARNING_LEVELS
from township.grids.validate import load_grid_file

ROOT = Path(__file__).resolve().parent.parent


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


# -- the map's names, scale and symbols (layers/maplabels.py, layers/mapfig.py) -----------------------



@pytest.fixture(scope="module")
def gs():
    return load_grid_file(BUNDLED_GRIDS)


@pytest.fixture(scope="module")
def features():
    return json.loads(BUNDLED_GRIDS.read_text(encoding="utf-8"))["features"]


class _View:
    """What :func:`layers.mapfig.label_update` reads of a view: the state and the grids shown."""

    def __init__(self, gs, state: FilterState) -> None:
        self.state = state
        shown2 = state.village or gs.ids(level=2)
        self.levels = {2: (shown2, None, np.arange(len(shown2)), np.arange(len(shown2)) % 3),
                       3: ([g for v in shown2 for g in gs.children(v)], None, None, None)}


def _boxes_overlap(boxes) -> bool:
    return any(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
               for i, a in enumerate(boxes) for b in boxes[i + 1:])


@pytest.mark.parametrize("counts,size,zoom_of", [
    (False, maplabels.VILLAGE_SIZE, "desk"),  # the desk at 1080p
    (True, 21.0, "wall"),  # the wall: bigger, with counts
])
def test_every_village_is_named_at_town_level_and_no_two_names_overlap(gs, features, counts, size, zoom_of):
    from ui.wall import wall_zoom

    zoom = mapfig.focus_zoom(FilterState(), gs) if zoom_of == "desk" else wall_zoom(gs)
    out = mapfig.label_update(_View(gs, FilterState()), gs, zoom, counts=counts, size=size)
    names = [t.split("<br>")[0] for t in out["text"]]
    villages = {f["properties"]["name"] for f in features if f["properties"]["kind"] == "village"}
    assert villages <= set(names)
    assert not _boxes_overlap(maplabels.label_boxes(list(out["text"]), out["lon"], out["lat"], size, zoom))
    # each name lies inside its own polygon
    polygons = {f["properties"]["name"]: shape(f["geometry"]) for f in features if f["properties"]["level"] == 2}
    for name, lon, lat in zip(names, out["lon"], out["lat"], strict=True):
        assert polygons[name].buffer(0.005).contains(shape({"type": "Point", "coordinates": [lon, lat]})), name


def test_a_chosen_village_names_its_grids_without_the_village_prefix(gs):
    state = FilterState(village=["DL-13"], level=2)
    out = mapfig.label_update(_View(gs, state), gs, mapfig.focus_zoom(state, gs))
    assert mapfig.drawn_level(state) == 3
    assert len(out["text"]) >= len(gs.children("DL-13")) - 1
    assert all(t.startswith("第") and t.endswith("网格") for t in out["text"])


def test_names_are_laid_out_for_the_view_shown(gs, features):
    """With the bounds the map shows (the desk after any move), only grids whose anchor (their polygon's pole of
    inaccessibility, by shapely) lies inside are named, at the zoom given; and the inset's rule, `covers`."""
    from shapely.ops import polylabel

    state = FilterState(village=["DL-13"], level=3)
    grids = {f["properties"]["grid_id"]: (f["properties"]["name"], shape(f["geometry"])) for f in features
             if f["properties"]["parent_id"] == "DL-13"}
    west, south, east, north = shape(next(f["geometry"] for f in features
                                          if f["properties"]["grid_id"] == "DL-13")).bounds
    view = (west, south, (west + east) / 2, (south + north) / 2)  # the village's south-west quarter, zoomed in

    def anchor(geom):
        minx, miny, maxx, maxy = geom.bounds
        return polylabel(geom, tolerance=max(maxx - minx, maxy - miny) / 1000)

    inside = {name.removeprefix("创业社区") for name, geom in grids.values()
              if view[0] <= anchor(geom).x <= view[2] and view[1] <= anchor(geom).y <= view[3]}
    assert 0 < len(inside) < len(grids)
    out = mapfig.label_update(_View(gs, state), gs, mapfig.focus_zoom(state, gs) + 2, bounds=view)
    assert set(out["text"]) == inside
    town = gs.bounds(gs.ids(level=1))
    assert mapfig.covers(town, town) and mapfig.covers((town[0] - 0.1, town[1] - 0.1, town[2] + 0.1, town[3] + 0.1),
                                                      town)
    assert not mapfig.covers(view, town)


def test_crowded_labels_are_dropped_not_overlapped():
    # ten long names on one point: only one fits, whatever the nudges
    lon, lat = [111.3] * 10, [40.1] * 10
    placed = maplabels.place([f"很长很长的名字{i}" for i in range(10)], lon, lat, 16, 11)
    assert len(placed.index) < 10 and placed.index[0] == 0  # the most important kept
    texts = [f"很长很长的名字{i}" for i in placed.index]
    assert not _boxes_overlap(maplabels.label_boxes(texts, placed.lon, placed.lat, 16, 11))


@pytest.mark.parametrize("values,top", [([0, 1, 1, 2], 2), ([0.0, 0.4], 1), ([3, 17, 9], 17), ([0, 0], 1)])
def test_colour_ticks_are_whole_numbers(values, top):
    out = mapfig.grid_colours([str(i) for i in range(len(values))], np.array(values, float), "open", "zh", 2)
    assert out["zmax"] == top and out["zmin"] == 0
    bar = out["colorbar"]
    assert bar["tickformat"] == "d" and bar["tick0"] == 0 and float(bar["dtick"]).is_integer() and bar["dtick"] >= 1


def test_a_chosen_village_is_coloured_on_the_towns_scale(gs):
    from township.read.views import town_scale

    village = "DL-13"
    grids = gs.ids(level=3)
    inside = [g for g in grids if g.startswith(village + "-")]
    cases = pd.DataFrame({
        "grid_id": pd.Categorical([inside[0], inside[0], "DL-01-01", "DL-01-01", "DL-01-01", "DL-01-01"],
                                   categories=grids),
        "village_id": [village, village, "DL-01", "DL-01", "DL-01", "DL-01"],
        "status": ["reported"] * 6, "domain": ["safety"] * 6, "type": ["hazard"] * 6,
        "reported_at": pd.Timestamp("2026-12-01"), "deadline_at": pd.Timestamp("2099-01-01"),
    })

    class Snap:
        pass

    snap = Snap()
    snap.cases = cases
    scale = town_scale(snap, gs, FilterState(village=[village], level=2), pd.Timestamp("2026-12-02").to_pydatetime(),
                       {2: None, 3: None})
    # counted by hand: four open cases in DL-01-01 (grid) and in DL-01 (village), two in the chosen one
    assert scale == {2: 4.0, 3: 4.0}
    out = mapfig.grid_colours(inside, np.array([2.0] + [0.0] * (len(inside) - 1)), "open", "zh", 3,
                              scale_max=scale[3])
    assert out["zmax"] == 4  # the chosen village's 2 is coloured as half the town's top, not as the top


def test_resources_are_shapes_in_no_status_or_warning_colour():
    symbols = list(mapfig.RESOURCE_SYMBOLS.values())
    assert len(set(symbols)) == len(symbols) and "●" not in symbols  # distinct, none a round dot
    # every shape is in the map font's ranges (served by the app)
    assert all(any(lo <= ord(s) <= hi for lo, hi in MAP_FONT_RANGES) for s in symbols)
    status_or_warning = {c.upper() for c in CASE_STATUS_COLORS.values()} | {
        v["color"].upper() for v in WARNING_LEVELS.values()}
    inks = {ink.upper() for ink, _halo in mapfig.RESOURCE_INK.values()}
    assert not inks & status_or_warning
    trace = mapfig.resource_trace()
    assert trace["mode"] == "text" and trace["textfont"]["family"] == MAP_FONT


def test_the_style_serves_its_own_map_font_and_the_illustrative_base():
    style = map_style()
    assert style["font-faces"][MAP_FONT][0]["url"].startswith("/assets/")
    assert (ROOT / style["font-faces"][MAP_FONT][0]["url"].lstrip("/")).stat().st_size > 1000
    data = style["sources"]["illustrative"]["data"]
    kinds = {f["properties"]["kind"] for f in data["features"]}
    assert kinds == {"river", "road", "settlement"}
    assert any("示意" in f["properties"]["label"] for f in data["features"])
    # a configured raster replaces it
    assert "illustrative" not in map_style("http://tiles.intranet/{z}/{x}/{y}.png")["sources"]


def test_the_illustrative_base_is_generated_deterministically(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("basemap_illustrative", ROOT / "scripts" / "basemap_illustrative.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    committed = json.loads((ROOT / "geodata" / "basemap-illustrative.geojson").read_text(encoding="utf-8"))
    assert json.dumps(built, ensure_ascii=False, sort_keys=True) == json.dumps(committed, ensure_ascii=False,
                                                                                 sort_keys=True)
    # the river runs along the town's north-east, outside it
    river = shape(next(f for f in built["features"] if f["properties"]["kind"] == "river")["geometry"])
    town = load_grid_file(BUNDLED_GRIDS)
    outline = town.geometry(town.ids(level=1)[0])
    assert not river.intersects(outline)
    assert river.centroid.x > outline.centroid.x and river.centroid.y > outline.centroid.y


def test_the_walls_banner_keeps_acknowledged_warnings_until_cleared():
    from ui.wall import live_alerts

    w = pd.DataFrame({"id": [1, 2, 3, 4], "level": [1, 1, 2, 3],
                       "status": ["acknowledged", "cleared", "handling", "active"],
                       "issued_at": pd.to_datetime(["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"])})
    assert list(live_alerts(w)["id"]) == [1, 3]


def test_warning_hover_times_are_beijing_time():
    w = pd.DataFrame({"id": [7], "title": ["x"], "type": ["fire"], "level": [1], "radius_m": [500.0],
                       "issued_at": pd.to_datetime(["2026-12-06 02:30"]), "lon": [111.2], "lat": [40.1]})
    custom = mapfig.warning_update(w, "zh")["customdata"]
    assert custom[0][4] == "2026-12-06 10:30"  # stored UTC, shown +8 h as the card shows it
