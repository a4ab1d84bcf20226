/* The desk map's view, fitted in the browser, and what it shows reported after every move.
 *
 * The server names in a figure's `layout.meta.fit` what the view should show ({key, bounds, camera}:
 * ui/dashboard.py map_fit). It cannot know the map's size (a 1080p desk, a 4K desk zoomed 2×, a
 * narrow window), so the fit is made here: once per `key` (a new key is a drill), MapLibre's
 * cameraForBounds for the map's real size, kept clear of the communities' inset, and set as a move
 * of the operator's, so that plotly keeps it (uirevision) through later updates of the figure.
 * After every move that settles (the fit, a drill, a table row's flight, the operator's scroll or drag),
 * the zoom and the bounds shown go to the store `camera` (dash_clientside.set_props); the server lays
 * out the names for them and folds the inset when the town is not all in view (callbacks/dashboard.py).
 * The first report waits for the map's first full draw, so that the names' patch does not start it over.
 */
(function () {
  'use strict';
  /* Room kept round the fitted bounds (px). */
  var PAD = 14;
  /* The longest the first report waits for the map's first full draw (ms). */
  var FIRST_DRAW_MS = 4000;

  function mapOf(gd) {
    var sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return sub && sub.map;
  }
  function fitOf(gd) {
    var meta = gd.layout && gd.layout.meta;
    return meta && typeof meta === 'object' ? meta.fit : null;
  }
  /* The inset's share of the map's width at its right edge, while it is shown (a folded one is a sliver). */
  function insetRight(gd) {
    var inset = gd._fullLayout.map2;
    var x = inset && inset.domain && inset.domain.x;
    return x && x[1] - x[0] > 0.05 ? (1 - x[0]) * gd._fullLayout._size.w : 0;
  }
  function fit(gd, map, want) {
    gd._townshipFitted = want.key;
    var b = want.bounds;
    var cam = map.cameraForBounds([[b[0], b[1]], [b[2], b[3]]],
                                  {padding: {top: PAD, bottom: PAD, left: PAD, right: PAD + insetRight(gd)}});
    if (!cam) { return; }
    // As the operator's own move (plotly's moveend takes one with an originalEvent for a GUI edit): plotly
    // records it, so that later figure updates with the same uirevision keep it, and emits plotly_relayout.
    map.jumpTo({center: cam.center, zoom: cam.zoom}, {originalEvent: {type: 'fit'}});
  }
  function report(gd, map) {
    // Not before the map's first full draw (or FIRST_DRAW_MS, if it never rests): the names that follow make
    // plotly set every source's data anew, and MapLibre would start its first drawing over.
    if (!map._townshipDrawn) {
      if (!map._townshipWaits) {
        map._townshipWaits = true;
        var drawn = function () {
          if (map._townshipDrawn) { return; }
          map._townshipDrawn = true;
          report(gd, map);
        };
        map.once('idle', drawn);
        window.setTimeout(drawn, FIRST_DRAW_MS);
      }
      return;
    }
    var want = fitOf(gd);
    if (!want || !want.camera || !window.dash_clientside || !window.dash_clientside.set_props) { return; }
    var b = map.getBounds();
    var shown = {zoom: Math.round(map.getZoom() * 1000) / 1000,
                 bounds: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
                   return Math.round(v * 1e5) / 1e5;
                 })};
    var key = JSON.stringify(shown);
    if (key === gd._townshipCamera) { return; }  // plotly redraws without moving: nothing to lay out anew
    gd._townshipCamera = key;
    window.dash_clientside.set_props(want.camera, {data: shown});
  }
  function settle(gd) {
    var map = mapOf(gd);
    var want = fitOf(gd);
    if (!map || !want || !want.bounds) { return; }
    if (!map._townshipMoves) {
      map._townshipMoves = true;
      map.on('moveend', function () { report(gd, map); });
    }
    if (gd._townshipFitted !== want.key) {
      fit(gd, map, want);  // its moveend reports
    } else if (!gd._townshipCamera) {
      report(gd, map);  // the first view, when no fit moved it
    }
  }
  /* Each plotly map, once: settle after every draw (a drill comes as a new figure patch). */
  function attach() {
    var graphs = document.querySelectorAll('.js-plotly-plot');
    for (var i = 0; i < graphs.length; i++) {
      var gd = graphs[i];
      if (gd._townshipView || !gd.on || !fitOf(gd)) { continue; }
      gd._townshipView = true;
      gd.on('plotly_afterplot', (function (g) { return function () { window.setTimeout(function () { settle(g); }, 0); }; })(gd));
      settle(gd);
    }
  }
  window.setInterval(attach, 250);
})();
