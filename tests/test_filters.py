"""The filter state and its URL mirror."""
from township.domain.filters import FilterState, drill, from_query, reset, up_to_town

VILLAGES = {"DL-01", "DL-03"}
GRIDS = {"DL-03-02"}


def test_deep_link_reproduces_the_state():
    state, notices = from_query("?village=DL-03&level=3&domain=safety", VILLAGES, GRIDS)
    assert (state.village, state.level, state.domain) == (["DL-03"], 3, ["safety"])
    assert notices == []
    again, _ = from_query(state.to_query(), VILLAGES, GRIDS)
    assert again == state


def test_default_state_has_an_empty_query():
    assert FilterState().to_query() == ""


def test_unknown_values_are_dropped_with_a_notice():
    state, notices = from_query("?village=DL-99,DL-01&level=7&domain=magic&wlevel=9&foo=bar", VILLAGES, GRIDS)
    assert state.village == ["DL-01"]
    assert state.level == FilterState().level
    assert state.domain == []
    assert set(notices) == {"village=DL-99", "level=7", "domain=magic", "wlevel=9", "foo=bar"}


def test_garbage_query_never_raises():
    for query in ("?level=&window=&grid=%00", "?village=,,,", "?lang=xx&measure=1", "%%%", "?=&=&"):
        state, _ = from_query(query, VILLAGES, GRIDS)
        assert isinstance(state, FilterState)


def test_empty_layers_round_trip():
    state = FilterState(layers=[])
    assert from_query(state.to_query(), VILLAGES, GRIDS)[0].layers == []


def test_drill_town_village_grid_and_back():
    s = drill(FilterState(level=1), "DL", 1, None)
    assert (s.level, s.village) == (2, [])
    s = drill(s, "DL-03", 2, "DL-03")
    assert (s.level, s.village, s.grid) == (3, ["DL-03"], None)
    s = drill(s.model_copy(update={"domain": ["safety"]}), "DL-03-02", 3, "DL-03")
    assert (s.grid, s.domain) == ("DL-03-02", ["safety"])
    up = up_to_town(s)
    assert (up.level, up.village, up.grid, up.domain) == (2, [], None, ["safety"])
    assert reset(s.model_copy(update={"lang": "en"})) == FilterState(lang="en")
