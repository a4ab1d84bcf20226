/* Map text halos and the red warning's pulse, on every plotly map of every page (layers/maplabels.py).
 *
 * Plotly has no attribute for a text halo, so a trace asks for one in its `meta` ({halo, halo_width})
 * and this sets it on the trace's MapLibre symbol layer after each draw. A trace whose meta has
 * `pulse` (ids of live red warnings, the wall) rings each id not seen before: the ring swells and
 * fades PULSES times, then stays as a steady ring. No CSS animation and no endless timer: the screen
 * is redrawn a few times per new warning, then not at all (see assets/wall.js, "Motion").
 */
(function () {
  'use strict';
  var PREFIX = 'plotly-trace-layer-';
  var PULSES = 6;
  var PULSE_MS = 700;
  var STEADY_WIDTH = 3;

  function mapOf(gd) {
    var layout = gd._fullLayout;
    var sub = layout && layout.map && layout.map._subplot;
    return sub && sub.map;
  }
  function paint(map, layer, values) {
    if (!map.getLayer(layer)) { return; }
    Object.keys(values).forEach(function (k) { map.setPaintProperty(layer, k, values[k]); });
  }
  function pulse(gd, map, layer, meta) {
    var seen = gd._townshipPulsed || (gd._townshipPulsed = {});
    var scale = meta.scale || 1;
    var fresh = (meta.pulse || []).filter(function (id) { return !seen[id]; });
    fresh.forEach(function (id) { seen[id] = true; });
    paint(map, layer, {'circle-stroke-color': '#ffffff', 'circle-stroke-opacity': 0.9});
    if (!fresh.length) {
      if (!gd._townshipPulsing) { paint(map, layer, {'circle-stroke-width': STEADY_WIDTH * scale}); }
      return;
    }
    gd._townshipPulsing = true;
    var step = 0;
    (function next() {
      var on = step % 2 === 0;
      paint(map, layer, {'circle-stroke-width': (on ? 12 : 2) * scale, 'circle-stroke-opacity': on ? 0.35 : 0.9});
      step += 1;
      if (step < PULSES * 2) {
        window.setTimeout(next, PULSE_MS / 2);
      } else {
        gd._townshipPulsing = false;
        paint(map, layer, {'circle-stroke-width': STEADY_WIDTH * scale, 'circle-stroke-opacity': 0.9});
      }
    })();
  }
  function decorate(gd) {
    var map = mapOf(gd);
    if (!map || !map.getLayer) { return; }
    (gd._fullData || []).forEach(function (trace) {
      var meta = trace.meta;
      if (!meta || typeof meta !== 'object' || trace.visible !== true) { return; }
      if (meta.halo) {
        var symbol = PREFIX + trace.uid + '-symbol';
        paint(map, symbol,
              {'text-halo-color': meta.halo, 'text-halo-width': meta.halo_width || 2, 'text-halo-blur': 0.5});
        if (meta.anchors && map.getLayer(symbol)) {
          // The server placed the names for the zoom it expected; at another zoom (a smaller map, the
          // user zoomed out) MapLibre may move a name beside its point rather than hide it.
          map.setLayoutProperty(symbol, 'text-variable-anchor', meta.anchors);
          map.setLayoutProperty(symbol, 'text-padding', 1);
        }
      }
      if (meta.pulse) { pulse(gd, map, PREFIX + trace.uid + '-circle', meta); }
    });
  }
  /* Each plotly map, once: decorate after every draw (plotly re-creates a layer when a trace changes type). */
  function attach() {
    var graphs = document.querySelectorAll('.js-plotly-plot');
    for (var i = 0; i < graphs.length; i++) {
      var gd = graphs[i];
      if (gd._townshipLabels || !gd.on) { continue; }
      gd._townshipLabels = true;
      gd.on('plotly_afterplot', (function (g) { return function () { decorate(g); }; })(gd));
      decorate(gd);
    }
  }
  window.setInterval(attach, 1000);
})();
