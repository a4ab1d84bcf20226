/* The field app's script: the outbox (moves, reports and photos made offline, sent in order when online,
   each with an idempotency key), positions, the report map, the language switch, the service worker.
   Words come from the page (#m-words, from field/text.py); no inline script (the CSP allows none). */
(function () {
  "use strict";
  var W = JSON.parse(document.getElementById("m-words").textContent);
  var PAGES = "m-pages-v1";
  var DB = "m-outbox", STORE = "items";
  var flushing = false;
  // Whose items this page sends and shows: the signed-in account's only (a phone may change hands).
  var OWNER = document.body.dataset.owner || "";
  function mine(items) { return items.filter(function (i) { return i.owner === OWNER; }); }

  // -- IndexedDB: the outbox, in order (autoincrement), and the refused items -------------------------------
  function db() {
    return new Promise(function (ok, fail) {
      var open = indexedDB.open(DB, 1);
      open.onupgradeneeded = function () {
        open.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        open.result.createObjectStore("refused", { keyPath: "key" });
      };
      open.onsuccess = function () { ok(open.result); };
      open.onerror = function () { fail(open.error); };
    });
  }
  function tx(store, mode, work) {
    return db().then(function (d) {
      return new Promise(function (ok, fail) {
        var t = d.transaction(store, mode), out = work(t.objectStore(store));
        t.oncomplete = function () { ok(out && "result" in out ? out.result : undefined); };
        t.onerror = function () { fail(t.error); };
      });
    });
  }
  function all(store) { return tx(store, "readonly", function (s) { return s.getAll(); }); }
  function put(store, item) { return tx(store, "readwrite", function (s) { return s.put(item); }); }
  function del(store, key) { return tx(store, "readwrite", function (s) { return s.delete(key); }); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2, 14);
  }

  // -- what waits, what was refused ---------------------------------------------------------------------------
  function render() {
    var box = document.getElementById("m-outbox");
    if (!box) { return Promise.resolve(); }
    return Promise.all([all(STORE), all("refused")]).then(function (r) {
      var waiting = mine(r[0]), refused = mine(r[1]), html = "";
      if (waiting.length) {
        html += "<h3>" + esc(W.outbox) + " (" + waiting.length + ")</h3>";
        if (!navigator.onLine) { html += "<p>" + esc(W.offline) + "</p>"; }
        html += "<ul>" + waiting.map(function (i) {
          var n = (i.before || []).length + (i.after || []).length;
          return "<li class=\"m-waiting\">" + esc(i.label) + (n ? " · " + esc(W.photo_count.replace("{n}", n)) : "") +
            "</li>";
        }).join("") + "</ul>";
      }
      refused.forEach(function (i) {
        html += "<div class=\"m-refused\"><b>" + esc(W.refused) + ":" + esc(i.label) + "</b><br>" +
          esc(i.message) + "<br><button type=\"button\" class=\"m-quiet\" data-dismiss=\"" + esc(i.key) + "\">" +
          esc(W.dismiss) + "</button></div>";
      });
      box.innerHTML = html;
      box.hidden = !html;
    });
  }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  // -- sending: one item at a time, in order; a network failure stops until the next chance -----------------
  function words(resp) {
    return resp.json().then(function (b) {
      return (b.errors || []).map(function (e) { return e.message; }).join("; ") || resp.status + "";
    }, function () { return resp.status + ""; });
  }
  // "done", "refused" (with words) or "later" (no network, a session to renew, the server busy).
  function post(url, body, isForm, owner) {
    // The server refuses (401, "later") a request whose maker is not the session's account.
    var init = { method: "POST", credentials: "same-origin", body: body, headers: { "X-Field-Owner": owner } };
    if (!isForm) { init.headers["Content-Type"] = "application/json"; }
    return fetch(url, init).then(function (resp) {
      if (resp.ok) { return resp.json().then(function (b) { return { state: "done", body: b }; }); }
      if (resp.status >= 500 || resp.status === 401 || resp.status === 429) { return { state: "later" }; }
      return words(resp).then(function (m) { return { state: "refused", message: m }; });
    }, function () { return { state: "later" }; });
  }
  function sendPhotos(item, list, url) {
    if (!list.length) { return Promise.resolve({ state: "done" }); }
    var form = new FormData();
    form.append("file", list[0].blob, list[0].name || "photo.jpg");
    form.append("key", list[0].key);
    form.append("purpose", item.purpose || "report");
    return post(url, form, true, item.owner).then(function (r) {
      if (r.state !== "done") { return r; }
      list.shift();
      return put(STORE, item).then(function () { return sendPhotos(item, list, url); });
    });
  }
  function sendOne(item) {
    var photoUrl = item.photoUrl;
    return sendPhotos(item, item.before || [], photoUrl).then(function (r) {
      if (r.state !== "done" || item.sentMain) { return r; }
      return post(item.url, JSON.stringify(item.body), false, item.owner).then(function (m) {
        if (m.state !== "done") { return m; }
        item.sentMain = true;
        item.result = m.body;
        if (m.body && m.body.case_id && !photoUrl) { item.photoUrl = "/m/api/cases/" + m.body.case_id + "/photos"; }
        return put(STORE, item).then(function () { return m; });
      });
    }).then(function (r) {
      if (r.state !== "done") { return r; }
      return sendPhotos(item, item.after || [], item.photoUrl);
    });
  }
  function flush() {
    if (flushing) { return Promise.resolve(); }
    flushing = true;
    var changed = false;
    function next() {
      return all(STORE).then(function (items) {
        items = mine(items);
        if (!items.length) { return; }
        var item = items[0];
        return sendOne(item).then(function (r) {
          if (r.state === "later") { return; }
          changed = true;
          var done = r.state === "refused" ?
            put("refused", { key: item.key, label: item.label, message: r.message, owner: item.owner }) :
            Promise.resolve();
          return done.then(function () { return del(STORE, item.seq); }).then(next);
        });
      });
    }
    return next().catch(function () {}).then(function () {
      flushing = false;
      return render();
    }).then(function () {
      // What was sent changed a case: show the page as it is now (once nothing is left to send).
      var page = document.body.dataset.page;
      if (changed && (page === "case" || page === "tasks" || page === "evacuation") && navigator.onLine) {
        return all(STORE).then(function (items) { if (!mine(items).length) { location.reload(); } });
      }
    });
  }
  function enqueue(item) {
    item.key = item.key || uuid();
    item.body.key = item.key;
    item.owner = OWNER;
    return put(STORE, item).then(render).then(flush);
  }

  // -- where the phone is ----------------------------------------------------------------------------------
  function position(timeout) {
    return new Promise(function (ok) {
      if (!navigator.geolocation) { return ok(null); }
      navigator.geolocation.getCurrentPosition(function (p) {
        ok({ lon: p.coords.longitude, lat: p.coords.latitude, accuracy: p.coords.accuracy });
      }, function () { ok(null); }, { enableHighAccuracy: true, timeout: timeout, maximumAge: 60000 });
    });
  }
  function km(a, b) {
    var r = Math.PI / 180, dl = (b.lat - a.lat) * r, dn = (b.lon - a.lon) * r;
    var h = Math.sin(dl / 2) * Math.sin(dl / 2) +
      Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dn / 2) * Math.sin(dn / 2);
    return 6371 * 2 * Math.atan2(Math.sqrt(h), Math.sqrt(1 - h));
  }
  function photos(form) {
    var input = form.querySelector("input[type=file]");
    return Array.prototype.map.call(input ? input.files : [], function (f) {
      return { blob: f, name: f.name, key: uuid() };
    });
  }
  function thumbs(form) {
    var input = form.querySelector("input[type=file]"), box = form.querySelector(".m-thumbs");
    if (!input || !box) { return; }
    input.addEventListener("change", function () {
      box.innerHTML = "";
      Array.prototype.forEach.call(input.files, function (f) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(f);
        box.appendChild(img);
      });
    });
  }

  // -- a photo's own position (EXIF GPS), read on the phone to suggest where a report is when the phone
  //    gives none; the server strips it from the stored copy ------------------------------------------------
  function gpsFromTiff(v, t) {
    var le = v.getUint16(t) === 0x4949;
    function u16(o) { return v.getUint16(t + o, le); }
    function u32(o) { return v.getUint32(t + o, le); }
    function entries(ifd) {
      var n = u16(ifd), out = {};
      for (var i = 0; i < n; i++) { out[u16(ifd + 2 + i * 12)] = ifd + 2 + i * 12; }
      return out;
    }
    var gpsAt = entries(u32(4))[0x8825];
    if (!gpsAt) { return null; }
    var gps = entries(u32(gpsAt + 8));
    function ref(tag) { return gps[tag] ? String.fromCharCode(v.getUint8(t + gps[tag] + 8)) : ""; }
    function deg(tag) {
      if (!gps[tag]) { return null; }
      var o = u32(gps[tag] + 8);
      function r(k) { return u32(o + k * 8) / u32(o + k * 8 + 4); }
      return r(0) + r(1) / 60 + r(2) / 3600;
    }
    var lat = deg(2), lon = deg(4);
    if (lat === null || lon === null || !isFinite(lat) || !isFinite(lon)) { return null; }
    return { lat: ref(1) === "S" ? -lat : lat, lon: ref(3) === "W" ? -lon : lon };
  }
  function photoGps(file) {
    return file.slice(0, 256 * 1024).arrayBuffer().then(function (buf) {
      var v = new DataView(buf), off = 2;
      if (v.getUint16(0) !== 0xFFD8) { return null; }
      while (off + 10 < v.byteLength) {
        var marker = v.getUint16(off);
        if ((marker & 0xFF00) !== 0xFF00) { return null; }
        if (marker === 0xFFE1 && v.getUint32(off + 4) === 0x45786966) { return gpsFromTiff(v, off + 10); }
        off += 2 + v.getUint16(off + 2);
      }
      return null;
    }).catch(function () { return null; });
  }

  // -- the pages ---------------------------------------------------------------------------------------------
  function casePage() {
    document.querySelectorAll("form.m-move[data-move]").forEach(function (form) {
      thumbs(form);
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var move = form.dataset.move, id = form.dataset.case, button = form.querySelector("button[type=submit]");
        document.querySelectorAll("#m-moves button").forEach(function (b) { b.disabled = true; });
        var where = move === "start" || move === "resolve" ? position(4000) : Promise.resolve(null);
        where.then(function (p) {
          var body = { expected_version: parseInt(form.dataset.version, 10), text: form.elements.text.value,
                       at: new Date().toISOString() };
          if (p) { body.lon = p.lon; body.lat = p.lat; body.accuracy = p.accuracy; }
          // An evacuation step names its own URL (field/evacpage.py); a case's move is the case's.
          return enqueue({ kind: "move", url: form.dataset.url || "/m/api/cases/" + id + "/" + move, body: body,
                           label: button.textContent + " #" + id, before: photos(form), after: [],
                           photoUrl: "/m/api/cases/" + id + "/photos", purpose: move === "resolve" ? "resolve" : "report" });
        });
      });
    });
    var copy = document.getElementById("m-copy");
    if (copy) {
      copy.addEventListener("click", function () {
        var done = function () { copy.textContent = W.copied; };
        if (navigator.clipboard) { navigator.clipboard.writeText(copy.dataset.copy).then(done, done); } else { done(); }
      });
    }
  }

  function pick(svg, lon, lat) {
    var form = document.getElementById("m-report"), d = svg.dataset, dot = svg.querySelector(".m-pick");
    form.elements.lon.value = lon.toFixed(6);
    form.elements.lat.value = lat.toFixed(6);
    dot.setAttribute("cx", ((lon - d.minx) * d.kx).toFixed(1));
    dot.setAttribute("cy", ((d.maxy - lat) * d.ky).toFixed(1));
    document.getElementById("m-position").textContent = lat.toFixed(6) + "," + lon.toFixed(6);
  }
  function reportPage() {
    var form = document.getElementById("m-report"), svg = document.getElementById("m-pick-map");
    thumbs(form);
    form.querySelector("input[type=file]").addEventListener("change", function (ev) {
      if (form.elements.lon.value) { return; }  // the phone's position or a tap comes first
      Array.prototype.reduce.call(ev.target.files, function (found, f) {
        return found.then(function (p) { return p || photoGps(f); });
      }, Promise.resolve(null)).then(function (p) {
        if (!p || form.elements.lon.value) { return; }
        form.elements.accuracy.value = "";
        pick(svg, p.lon, p.lat);
        document.getElementById("m-position").textContent += " · " + W.from_photo;
      });
    });
    if (svg) {
      svg.addEventListener("click", function (ev) {
        var pt = svg.createSVGPoint();
        pt.x = ev.clientX; pt.y = ev.clientY;
        var p = pt.matrixTransform(svg.getScreenCTM().inverse()), d = svg.dataset;
        form.elements.accuracy.value = "";
        pick(svg, parseFloat(d.minx) + p.x / parseFloat(d.kx), parseFloat(d.maxy) - p.y / parseFloat(d.ky));
      });
    }
    document.getElementById("m-locate").addEventListener("click", function () {
      document.getElementById("m-position").textContent = W.locating;
      position(8000).then(function (p) {
        if (!p) { document.getElementById("m-position").textContent = W.no_geo; return; }
        form.elements.accuracy.value = Math.round(p.accuracy);
        pick(svg, p.lon, p.lat);
      });
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = form.elements, num = function (v) { return v === "" ? null : parseFloat(v); };
      var body = { type: f.type.value, domain: f.domain.value, description: f.description.value,
                   lon: num(f.lon.value), lat: num(f.lat.value), accuracy: num(f.accuracy.value),
                   at: new Date().toISOString() };
      var label = f.type.options[f.type.selectedIndex].text + ":" + body.description.slice(0, 20);
      enqueue({ kind: "report", url: "/m/api/reports", body: body, label: label, before: [], after: photos(form),
                purpose: "report" }).then(function () {
        form.reset();
        form.querySelector(".m-thumbs").innerHTML = "";
        document.getElementById("m-position").textContent = W.no_position;
      });
    });
  }

  function tasksPage() {
    var items = document.querySelectorAll(".m-item[data-lon]");
    // Keep the case pages of my list readable offline (the service worker serves them from this cache).
    if (window.caches && navigator.onLine) {
      caches.open(PAGES).then(function (c) {
        return Promise.all(Array.prototype.map.call(document.querySelectorAll(".m-item"), function (a) {
          return c.add(a.getAttribute("href")).catch(function () {});
        }));
      });
    }
    if (items.length) {
      position(8000).then(function (me) {
        if (!me) { return; }
        items.forEach(function (a) {
          var d = km(me, { lon: parseFloat(a.dataset.lon), lat: parseFloat(a.dataset.lat) });
          a.querySelector(".m-dist").textContent = W.distance + " " + (d < 1 ? Math.round(d * 1000) + " m" : d.toFixed(1) + " km");
        });
      });
    }
    var out = document.getElementById("m-sign-out");
    if (out) {
      out.form.addEventListener("submit", function () { if (window.caches) { caches.delete(PAGES); } });
    }
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t.id === "m-lang") {
      document.cookie = "m_lang=" + t.dataset.to + "; path=/m; max-age=31536000; SameSite=Lax";
      location.reload();
    } else if (t.dataset && t.dataset.dismiss) {
      del("refused", t.dataset.dismiss).then(render);
    }
  });

  var page = document.body.dataset.page;
  if (page === "case" || page === "evacuation") { casePage(); }
  if (page === "report") { reportPage(); }
  if (page === "tasks") { tasksPage(); }
  if ("serviceWorker" in navigator) { navigator.serviceWorker.register("/m/sw.js", { scope: "/m" }).catch(function () {}); }
  window.addEventListener("online", flush);
  window.addEventListener("offline", render);
  setInterval(flush, 15000);
  if (page !== "login") { render().then(flush); }
  // The page is usable: its handlers are on (bench/field_load.py measures the time to here).
  if (window.performance && performance.mark) { performance.mark("m-ready"); }
}());
