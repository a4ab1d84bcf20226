/* The wall display's browser side (/wall): poll, clock and data age, tour (see callbacks/wall.py);
 * and what moves on the wall without a CSS animation: the banner's flash, the offline mark's blink,
 * the feed's steps (see "Motion" at the end).
 *
 * Loaded on every page (Dash serves all of assets/): the callbacks' functions run only when the
 * wall's callbacks call them, and the motion timers do nothing on a page without the wall.
 */
(function () {
  'use strict';
  var POLL_URL = '/api/v1/version';
  var POLL_TIMEOUT_MS = 2500;
  // A refresh asked for but not yet on screen is asked for again after this long
  // (it may have been lost to a restart); never sooner, so a slow refresh is not
  // overtaken by its own repeats.
  var RETRY_MS = 5000;
  // Dash records every prop a component sets itself (each dcc.Interval tick) in an
  // undo history that nothing on this page reads and that grows forever; keep its tail.
  var HISTORY_KEEP = 10;
  var polling = false;  // one poll at a time: a slow network must not pile requests up
  // The longest a tour's stop waits for the moved map's first frame (tour, below).
  var DRAW_WAIT_MS = 1500;

  function noUpdate(n) {
    var u = window.dash_clientside.no_update;
    if (n === 1) { return u; }
    var out = [];
    for (var i = 0; i < n; i++) { out.push(u); }
    return out;
  }

  function trimHistory() {
    (window.dash_stores || []).forEach(function (store) {
      var history = store.getState().history;
      if (history && history.past && history.past.length > HISTORY_KEEP) {
        history.past.splice(0, history.past.length - HISTORY_KEEP);
      }
    });
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /* Beijing time whatever the machine's time zone: UTC+8 all year (China has no summer time). */
  function beijing(now, texts) {
    var d = new Date(now + 8 * 3600 * 1000);
    var days = texts.weekdays.split(',');
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      days[d.getUTCDay()] + ' ' + texts.beijing + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
  }

  function ageText(seconds, texts) {
    if (seconds < 120) { return texts.updated_s.replace('{n}', seconds); }
    if (seconds < 7200) { return texts.updated_m.replace('{n}', Math.floor(seconds / 60)); }
    return texts.updated_h.replace('{n}', Math.floor(seconds / 3600));
  }

  /* The MapLibre map of the plotly graph in the element `id`, once drawn. */
  function mapOf(id) {
    var gd = document.querySelector('#' + id + ' .js-plotly-plot');
    var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return sub && sub.map;
  }

  /* Centre and zoom that fit lon/lat bounds in the map's real size (as layers.basemap.view_for_bounds);
   * with `center` [lon, lat] the view is centred there and still shows all of the bounds. */
  function fit(bounds, el, center) {
    var w = (el && el.clientWidth) || 1100;
    var h = (el && el.clientHeight) || 860;
    var merc = function (lat) { return Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360)); };
    var c = center || [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2];
    var dx = 2 * Math.max(c[0] - bounds[0], bounds[2] - c[0], 1e-6) / 360;
    var dy = 2 * Math.max(merc(c[1]) - merc(bounds[1]), merc(bounds[3]) - merc(c[1]), 1e-6) / (2 * Math.PI);
    // a margin, so the stop's name and the banner over the map do not hide its edges
    var zoom = Math.log2(Math.min(w / 512 / dx, h / 512 / dy)) - 0.35;
    return {center: {lon: c[0], lat: c[1]}, zoom: Math.round(zoom * 100) / 100};
  }

  function findStop(plan, key) {
    if (!plan || key === null) { return null; }
    if (plan.town.key === key) { return plan.town; }
    for (var i = 0; i < plan.order.length; i++) {
      if (plan.order[i].key === key) { return plan.order[i]; }
    }
    return null;
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.wall = {
    /* Marker sizes follow the screen: 1 at 1920 px wide, 2 at 3840 (sent to the server once). */
    scale: function () {
      var s = Math.min(4, Math.max(1, Math.round(window.innerWidth / 1920 * 4) / 4));
      return s === 1 ? noUpdate(1) : s;
    },

    /* Ask the server for its data version; ask for a refresh when the screen is behind.
     * health = {confirmed: ms when the screen was last known current, ok: ms of the last
     * answer, fails: failed polls in a row, version: the server's version, skew: ms the
     * server's clock is ahead of this one}. Times are this machine's, except the clock's. */
    poll: function (n, shown, health, want) {
      var start = Date.now();
      var h = Object.assign({confirmed: start, ok: null, fails: 0, version: shown}, health || {});
      if (polling) { return noUpdate(2); }
      polling = true;
      var controller = new AbortController();
      var timer = setTimeout(function () { controller.abort(); }, POLL_TIMEOUT_MS);
      return fetch(POLL_URL, {cache: 'no-store', signal: controller.signal})
        .then(function (res) {
          if (!res.ok) { throw new Error('HTTP ' + res.status); }
          // The clock follows the server's clock (HTTP Date, 1 s resolution): a wall PC on a
          // closed network often has no time server. Small differences are left alone.
          var served = Date.parse(res.headers.get('Date'));
          if (!isNaN(served)) {
            var skew = served + 500 - (start + Date.now()) / 2;
            h.skew = Math.abs(skew) > 2000 ? Math.round(skew) : 0;
          }
          return res.json();
        })
        .then(function (body) {
          var now = Date.now();
          h.ok = now;
          h.fails = 0;
          h.version = body.version;
          if (body.version === shown) {
            h.confirmed = now;
            return [h, noUpdate(1)];
          }
          var ask = !want || want.version !== body.version || now - want.at >= RETRY_MS;
          return [h, ask ? {version: body.version, at: now} : noUpdate(1)];
        })
        .catch(function () {
          h.fails += 1;
          return [h, noUpdate(1)];
        })
        .finally(function () {
          clearTimeout(timer);
          polling = false;
        });
    },

    /* Clock, data age (red when stale) and the offline mark. */
    status: function (n, health, options) {
      trimHistory();
      var now = Date.now();
      var h = health || {confirmed: now, fails: 0};
      var age = Math.max(0, Math.floor((now - h.confirmed) / 1000));
      var stale = age > options.stale;
      var offline = h.fails >= options.offline_after;
      return [beijing(now + (h.skew || 0), options.texts), ageText(age, options.texts),
              stale ? 'wall-age stale' : 'wall-age', !offline];
    },

    /* The tour: town, then the villages busiest first, `interval` s each; a new red
     * warning takes the map for `hold` s. cursor = {key, pos, since, focus, until, detail}.
     * With ?replay= the tour's second stop is the replay (plan.replay, its own `seconds`): while the
     * map is at it, every tick asks the server for the frame of the moment reached (the last
     * outputs, wall-replay.data = {t: epoch s}); leaving it asks for live again (null). */
    move: function (n, plan, focus, options, cursor) {
      var now = Date.now();
      var c = Object.assign({key: null, pos: 0, since: 0, focus: null, until: 0, detail: null, replay: null},
                            cursor || {});
      var replayStops = options.tour && plan.replay ? [plan.replay] : [];
      var stops = [plan.town].concat(replayStops, options.tour ? plan.order : []);
      var here = stops[c.pos % stops.length];
      var stay = ((here && here.seconds) || options.interval) * 1000;
      var target = null;
      if (focus && focus.id !== c.focus) {
        c.focus = focus.id;
        c.until = now + options.hold * 1000;
        target = focus;
      } else if (c.until) {
        if (now < c.until) { return replayOut(noUpdate(5), c, now); }
        c.until = 0;
        target = stops[c.pos % stops.length];
      } else if (c.key === null) {
        c.pos = 0;
        target = stops[0];
      } else if (options.tour && now - c.since >= stay) {
        c.pos = (c.pos + 1) % stops.length;
        target = stops[c.pos];
      }
      if (!target) {
        // Not moving: keep the figures under the name current after a refresh.
        var current = findStop(plan, c.key);
        if (current && current.detail !== c.detail) {
          c.detail = current.detail;
          return replayOut([noUpdate(1), noUpdate(1), noUpdate(1), current.detail, c], c, now);
        }
        return replayOut(noUpdate(5), c, now);
      }
      var view = fit(target.bounds, document.getElementById(options.map), target.center);
      var widths = options.base_width;
      if (target.index >= 0) {
        widths = [];
        for (var i = 0; i < plan.villages; i++) {
          widths.push(i === target.index ? options.stop_width : options.base_width);
        }
      }
      // A new uirevision makes Plotly take the new centre and zoom (as a drill does on the dashboard).
      var patch = new window.dash_clientside.Patch()
        .assign(['layout', 'map', 'center'], view.center)
        .assign(['layout', 'map', 'zoom'], view.zoom)
        .assign(['layout', 'map', 'uirevision'], 'wall:' + target.key)
        .assign(['data', options.villages_trace, 'marker', 'line', 'width'], widths);
      if (options.inset && c.key === null) {
        // the communities' inset, fitted once to its real size (twice the pixels on a 4K wall)
        var el = document.getElementById(options.map);
        var d = options.inset.domain;
        var box = {clientWidth: ((el && el.clientWidth) || 1100) * (d.x[1] - d.x[0]),
                   clientHeight: ((el && el.clientHeight) || 860) * (d.y[1] - d.y[0])};
        var inset = fit(options.inset.bounds, box);
        patch = patch.assign(['layout', 'map2', 'center'], inset.center)
          .assign(['layout', 'map2', 'zoom'], inset.zoom + 0.2)  // fit() leaves a margin the inset does not need
          .assign(['layout', 'map2', 'uirevision'], 'wall:inset');
      }
      patch = patch.build();
      c.key = target.key;
      c.since = now;
      c.detail = target.detail;
      // the replay runs over the range the plan gave when the stop began (a refresh meanwhile moves nothing)
      c.replay = target.key === 'replay' ? {start: target.start, end: target.end, ms: (target.seconds || 1) * 1000}
                                         : (c.replay ? {end: true} : null);
      var out = replayOut([patch, target.name, target.key, target.detail, c], c, now);
      var map = mapOf(options.map);
      if (!map) { return out; }
      // The camera moves now, with the stop's name. The patch is a Plotly.react of the whole figure, in
      // which plotly sends every choropleth's GeoJSON to MapLibre again (the outline's widths change):
      // 0.3-1.2 s of the main thread on a loaded machine, 2-4 s until drawn, and the map moved only then
      // while the name had changed. Name and patch follow once MapLibre has drawn the moved map (its
      // frame is shown before the next task), and the patch sets the same view.
      return new Promise(function (resolve) {
        var done = function () { window.setTimeout(function () { resolve(out); }, 0); };
        var fallback = window.setTimeout(done, DRAW_WAIT_MS);  // a map that draws nothing must not hold the tour
        map.once('render', function () { window.clearTimeout(fallback); done(); });
        map.jumpTo({center: [view.center.lon, view.center.lat], zoom: view.zoom});
      });
    }
  };

  /* The tour's outputs with the replay's last: the moment reached at the replay stop, null once when
   * it has been left (live again), else nothing. */
  function replayOut(out, c, now) {
    var r = c.replay;
    if (!r) { return out.concat([noUpdate(1)]); }
    if (r.end === true || c.until || c.key !== 'replay') {
      c.replay = null;
      return withCursor(out, c).concat([null]);
    }
    var share = Math.min(1, Math.max(0, (now - c.since) / r.ms));
    var t = Math.round((r.start + share * (r.end - r.start)) / 60) * 60;  // whole minutes, as the clock reads
    if (t === r.t) { return out.concat([noUpdate(1)]); }
    r.t = t;
    return withCursor(out, c).concat([{t: t}]);
  }

  /* `out` with the cursor as its last output (it changed), whatever `out` was. */
  function withCursor(out, c) {
    var copy = out.slice();
    copy[4] = c;
    return copy;
  }

  /* ---- Motion ----
   * Timers that set an attribute or a transform, never a CSS animation: while any CSS animation runs,
   * even a steps() one, Chromium composites sixty frames a second, and without a GPU (software
   * rendering: headless Chromium, many command-centre PCs) that took more than a CPU core for as long
   * as the wall was on, and slowed its own updates. Now the screen is redrawn once per change. */
  var FLASH_MS = 1200;  // the banner: each colour this long (as assets/alert-flash.js on the dashboard)
  var BLINK_MS = 500;   // the offline mark: shown, hidden, this long each
  var FEED_STEP_MS = 2500;  // the feed, unless its track says otherwise (data-step-ms, ui.wall.FEED_STEP_S)
  var FEED_ID = 'wall-feed';

  /* Flip `attr` on every element shown that matches `selector`; a hidden one starts afresh next time. */
  function flip(selector, attr) {
    var els = document.querySelectorAll(selector);
    for (var i = 0; i < els.length; i++) {
      if (els[i].hidden) { els[i].removeAttribute(attr); } else { els[i].toggleAttribute(attr); }
    }
  }

  // Who asked the system for less motion gets a steady banner and mark (the feed still steps: it
  // jumps a line, it does not glide, and it is the only way to see every case).
  if (!(window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches)) {
    window.setInterval(function () { flip('.wall .wall-banner', 'data-dim'); }, FLASH_MS);
    window.setInterval(function () { flip('.wall .wall-offline', 'data-blink'); }, BLINK_MS);
  }

  /* The feed: the track (#wall-feed) holds the list twice; each step moves it up by one line, to
   * line `pos` of the first copy, and after the last line back to the first, which looks the same as
   * the second copy's first line, so there is no seam. The refresh callback replaces the items in
   * place: the position is kept, except that a new newest case (data-case of the first line) sends the
   * feed back to the top, where it shows, and the next step waits a whole step. */
  var feed = {track: null, pos: 0, newest: null, timer: null};
  var observer = window.MutationObserver ? new MutationObserver(function () { stepFeed(false); }) : null;

  function feedStepMs(track) {
    var ms = track ? parseInt(track.getAttribute('data-step-ms'), 10) : NaN;
    return ms >= 500 ? ms : FEED_STEP_MS;
  }

  function scheduleFeed() {
    window.clearTimeout(feed.timer);
    feed.timer = window.setTimeout(function () {
      stepFeed(true);
      scheduleFeed();
    }, feedStepMs(feed.track));
  }

  /* advance: one line on; otherwise only follow what the refresh changed. */
  function stepFeed(advance) {
    var track = document.getElementById(FEED_ID);
    if (track !== feed.track) {  // a new page (or none): start from the top
      feed.track = track;
      feed.pos = 0;
      feed.newest = null;
      if (observer) {
        observer.disconnect();
        if (track) {
          observer.observe(track, {childList: true, subtree: true, attributes: true,
                                   attributeFilter: ['data-case']});
        }
      }
    }
    if (!track) { return; }
    var list = track.querySelector('.feed-list');
    var items = list ? list.children : [];
    var n = items.length;
    var newest = n ? items[0].getAttribute('data-case') : null;
    if (newest !== feed.newest) {
      feed.newest = newest;
      feed.pos = 0;
      if (!advance) { scheduleFeed(); }  // the new case stands a whole step
    } else if (advance) {
      feed.pos += 1;
    }
    feed.pos = n ? feed.pos % n : 0;
    // offsetTop is the layout position (transforms do not move it), so this is exact at any size
    var y = n ? items[feed.pos].offsetTop - items[0].offsetTop : 0;
    var transform = y ? 'translateY(' + (-y) + 'px)' : '';
    if (track.style.transform !== transform) { track.style.transform = transform; }
  }

  scheduleFeed();
})();
