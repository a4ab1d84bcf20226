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
 * Until a map has drawn, its picture from the server is painted in its place (paint, unveil).
 */
(function () {
  'use strict';
  /* Room kept round the fitted bounds (px). */
  var PAD = 14;
  /* The longest the first report waits for the map's first full draw (ms). */
  var FIRST_DRAW_MS = 4000;
  /* The longest a picture stays: a map that never draws (no WebGL) or never rests (a raster server that hangs)
   * must not stay hidden under an old picture (ms). */
  var PICTURE_MS = 10000;

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
    // Not before the map's first full draw (whenDrawn; or FIRST_DRAW_MS, if it never rests): the names that follow make
    // plotly set every source's data anew, and MapLibre would start its first drawing over.
    if (!map._townshipDrawn && !map._townshipWaited) {
      if (!map._townshipWaits) {
        map._townshipWaits = true;
        whenDrawn(map, function () { report(gd, map); });
        window.setTimeout(function () { map._townshipWaited = true; report(gd, map); }, FIRST_DRAW_MS);
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
  /* The font of the pictures' names: the map's own, then the page's CJK fonts. */
  var FONT = '"Township Map", "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif';

  /* Paint a picture of the map (ui/dashboard.py map_pictures; its steps: layers/preview.py figure_picture) on a
   * canvas filling it. Its inner box is where the picture's `size` goes; widths and text sizes stay in screen px.
   * `willReadFrequently` keeps the canvas in this process, drawn by the CPU: left to the GPU process (as an SVG
   * image or a GPU canvas), software GL took it half a second there and held the map's own start back by as much. */
  function paint(picture) {
    if (picture.querySelector('canvas')) { return; }
    var drawing = JSON.parse(picture.getAttribute('data-picture'));
    // in px as shown (a desk zoomed 2× on a 4K screen shows a CSS px as two), and the page's own zoom
    var box = picture.firstElementChild.getBoundingClientRect();
    var outer = picture.getBoundingClientRect();
    if (!outer.width || !outer.height || !box.width || !picture.offsetWidth) { return; }
    var zoom = outer.width / picture.offsetWidth;
    var dpr = window.devicePixelRatio || 1;
    var k = box.width / drawing.size[0] / zoom;  // CSS px per unit: widths and sizes are CSS px
    var canvas = document.createElement('canvas');
    canvas.width = Math.round(outer.width * dpr);
    canvas.height = Math.round(outer.height * dpr);
    var ctx = canvas.getContext('2d', {willReadFrequently: true});
    ctx.setTransform(k * zoom * dpr, 0, 0, k * zoom * dpr, (box.left - outer.left) * dpr, (box.top - outer.top) * dpr);
    ctx.lineJoin = 'round';
    var painted = {};  // what it shows, by trace: areas or dots (for the benchmark and the tests)
    function count(step, n) { painted[step.trace] = (painted[step.trace] || 0) + n; }
    function stroke(path, colour, width, alpha, cap) {
      ctx.globalAlpha = alpha === undefined ? 1 : alpha;
      ctx.strokeStyle = colour;
      ctx.lineWidth = width / k;
      ctx.lineCap = cap || 'butt';
      ctx.stroke(path);
    }
    drawing.steps.forEach(function (step) {
      if (step.background) {  // everything, margins too
        ctx.save();
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.fillStyle = step.background;
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.restore();
      } else if (step.areas) {  // all filled, then all outlined: no fill covers a shared border
        var paths = step.areas.map(function (area) { return new Path2D(area.d); });
        step.areas.forEach(function (area, i) {
          ctx.globalAlpha = area.alpha;
          ctx.fillStyle = area.fill;
          ctx.fill(paths[i]);
        });
        step.areas.forEach(function (area, i) { stroke(paths[i], area.stroke, area.width, area.alpha); });
        count(step, step.areas.length);
      } else if (step.texts) {
        ctx.globalAlpha = 1;
        ctx.font = (step.size / k) + 'px ' + FONT;
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.fillStyle = step.fill;
        ctx.strokeStyle = step.halo || 'transparent';
        ctx.lineWidth = 2 * step.halo_width / k;
        step.texts.forEach(function (t) {
          var lines = String(t[2]).split('\n');
          lines.forEach(function (line, i) {
            var y = t[1] + (i - (lines.length - 1) / 2) * 1.2 * step.size / k;
            if (step.halo && step.halo_width) { ctx.strokeText(line, t[0], y); }
            ctx.fillText(line, t[0], y);
          });
        });
      } else if (step.d) {
        stroke(new Path2D(step.d), step.stroke, step.width, step.stroke_alpha, step.cap);
        if (step.dots) { count(step, step.dots); }
      }
    });
    ctx.globalAlpha = 1;
    picture.appendChild(canvas);
    picture.setAttribute('data-painted', JSON.stringify(painted));
    window.setTimeout(function () { hide(picture); }, PICTURE_MS);
    // Two frames on, it is on the screen (bench/cold_load.py reads the mark); then what MapLibre will need next.
    window.requestAnimationFrame(function () {
      window.requestAnimationFrame(function () {
        performance.mark('map-picture:' + picture.getAttribute('data-subplot'));
        fetchFonts(drawing.fonts);
      });
    });
  }
  /* Ask early for the map's font files (the style's `font-faces`): MapLibre asks only when a symbol layer first needs
   * a glyph, and its map does not finish until the file has come. A `fetch` preload with the credentials of MapLibre's
   * own request is what that request then finds in the cache. After the picture, where there is one: it needs none. */
  var fetched = {};
  function fetchFonts(urls) {
    (urls || []).forEach(function (url) {
      if (fetched[url]) { return; }
      fetched[url] = true;
      var link = document.createElement('link');
      link.rel = 'preload';
      link.as = 'fetch';
      link.crossOrigin = 'anonymous';
      link.href = url;
      document.head.appendChild(link);
    });
  }
  function styleFonts(gd) {
    var style = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map.style;
    var faces = style && typeof style === 'object' ? style['font-faces'] || {} : {};
    return Object.keys(faces).reduce(function (urls, family) {
      var list = Array.isArray(faces[family]) ? faces[family] : [faces[family]];
      return urls.concat(list.map(function (face) { return face && face.url; }).filter(Boolean));
    }, []);
  }
  /* Take a picture away (and its canvas: its memory). */
  function hide(picture) {
    picture.hidden = true;
    var canvas = picture.querySelector('canvas');
    if (canvas) { canvas.remove(); }
  }
  /* Calls `then` once `map` has drawn the figure it was given: its first `idle` with plotly's layers in (the base
   * map alone goes idle before plotly has put them in), asked for again at once in case it had drawn already. */
  function whenDrawn(map, then) {
    if (map._townshipDrawn) { then(); return; }
    if (map._townshipThen) { map._townshipThen.push(then); return; }
    map._townshipThen = [then];
    function drawn() {
      if (!map.getLayersOrder().some(function (id) { return id.indexOf('plotly-trace-layer-') === 0; })) { return; }
      map.off('idle', drawn);
      map._townshipDrawn = true;
      map._townshipThen.forEach(function (f) { f(); });
    }
    map.on('idle', drawn);
    map.triggerRepaint();
  }
  /* The pictures, each hidden once its own map (`map`, the inset's `map2`) has drawn (whenDrawn). */
  function unveil(gd) {
    var frame = gd.closest('.map-frame');
    var pictures = frame ? frame.querySelectorAll('.map-picture:not([hidden])') : [];
    for (var i = 0; i < pictures.length; i++) {
      var subplot = pictures[i].getAttribute('data-subplot');
      var sub = gd._fullLayout && gd._fullLayout[subplot];
      var map = sub && sub._subplot && sub._subplot.map;
      if (!map) { continue; }
      if (map._townshipDrawn) {
        hide(pictures[i]);
      } else if (!map._townshipUnveils) {
        map._townshipUnveils = true;
        watch(gd, map, subplot);
      }
    }
  }
  function watch(gd, map, subplot) {
    whenDrawn(map, function () {
      performance.mark('map-drawn:' + subplot);  // for the tests
      unveil(gd);
    });
  }
  /* Each plotly map, once: settle after every draw (a drill comes as a new figure patch). */
  function attach() {
    var graphs = document.querySelectorAll('.js-plotly-plot');
    for (var i = 0; i < graphs.length; i++) {
      var gd = graphs[i];
      unveil(gd);
      if (mapOf(gd)) { fetchFonts(styleFonts(gd)); }  // where no picture asked already
      if (gd._townshipView || !gd.on || !fitOf(gd)) { continue; }
      gd._townshipView = true;
      gd.on('plotly_afterplot', (function (g) { return function () { window.setTimeout(function () { settle(g); }, 0); }; })(gd));
      settle(gd);
    }
  }
  window.setInterval(attach, 250);
  /* A picture is painted as soon as the page puts it in, before the browser first shows it. */
  new MutationObserver(function () {
    var pictures = document.querySelectorAll('.map-picture[data-picture]:not([hidden])');
    for (var i = 0; i < pictures.length; i++) { paint(pictures[i]); }
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
