// The resident's page (/report): the place (my position or a tap on the map), the nearby reports of the
// same kind, and the proof of work the server asks for. Nothing loads from outside.
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) { return; }
  var words = JSON.parse(form.dataset.words);
  var bits = parseInt(form.dataset.bits, 10);
  var send = document.getElementById("report-send");
  var lonIn = document.getElementById("report-lon"), latIn = document.getElementById("report-lat");
  var place = document.getElementById("report-place");
  var svg = document.getElementById("town-map"), pin = document.getElementById("town-pin");
  var nearby = document.getElementById("nearby");

  // -- SHA-256 (FIPS 180-4), enough of it for the proof: the digest's first word of an ASCII message.
  // crypto.subtle exists only on HTTPS pages, and a village LAN may serve plain HTTP.
  var K = [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2];
  var W = new Int32Array(64);

  function firstWord(msg) {
    // The form token and a counter fit one block (the server keeps the token short for that).
    var n = msg.length, nw = ((n + 9 + 63) >> 6) << 4, m = new Int32Array(nw), i, t, j;
    for (i = 0; i < n; i++) { m[i >> 2] |= msg.charCodeAt(i) << (24 - (i & 3) * 8); }
    m[n >> 2] |= 0x80 << (24 - (n & 3) * 8);
    m[nw - 1] = n * 8;
    var h0 = 0x6a09e667, h1 = 0xbb67ae85 | 0, h2 = 0x3c6ef372, h3 = 0xa54ff53a | 0,
      h4 = 0x510e527f, h5 = 0x9b05688c | 0, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
    for (j = 0; j < nw; j += 16) {
      for (t = 0; t < 16; t++) { W[t] = m[j + t]; }
      for (t = 16; t < 64; t++) {
        var x = W[t - 15], y = W[t - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
      }
      var a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
      for (t = 0; t < 64; t++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
      h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
    }
    return h0;
  }

  // -- the proof of work: a counter whose SHA-256 of "token:counter" starts with `bits` zero bits. In slices,
  // so that the page stays responsive while it runs.
  var token = form.querySelector("input[name=form_token]").value;
  var counter = 0;
  function work() {
    var stop = counter + 4000;
    for (; counter < stop; counter++) {
      if (Math.clz32(firstWord(token + ":" + counter)) >= bits) {
        document.querySelectorAll("input[name=pow]").forEach(function (el) { el.value = String(counter); });
        send.disabled = false;
        send.textContent = words.res_send;
        document.body.dataset.ready = "1";
        return;
      }
    }
    setTimeout(work, 0);
  }
  setTimeout(work, 0);

  // -- the place
  function setPlace(lon, lat, name) {
    lonIn.value = lon.toFixed(6);
    latIn.value = lat.toFixed(6);
    place.textContent = words.res_place_in + (name ? name + " " : "") + "(" + lon.toFixed(5) + ", " +
      lat.toFixed(5) + ")";
    place.className = "hint";
    var sx = parseFloat(svg.dataset.sx), sy = parseFloat(svg.dataset.sy);
    pin.setAttribute("cx", String((lon - parseFloat(svg.dataset.minx)) * sx));
    pin.setAttribute("cy", String((parseFloat(svg.dataset.maxy) - lat) * sy));
    lookNearby();
  }

  svg.addEventListener("click", function (ev) {
    var village = ev.target.closest ? ev.target.closest("[data-village]") : null;
    if (!village) {
      place.textContent = words.res_outside;
      place.className = "error";
      return;
    }
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    var lon = parseFloat(svg.dataset.minx) + p.x / parseFloat(svg.dataset.sx);
    var lat = parseFloat(svg.dataset.maxy) - p.y / parseFloat(svg.dataset.sy);
    setPlace(lon, lat, village.dataset.name);
  });

  document.getElementById("report-locate").addEventListener("click", function () {
    if (!navigator.geolocation) { place.textContent = words.res_no_geo; return; }
    place.textContent = words.res_locating;
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPlace(pos.coords.longitude, pos.coords.latitude, "");
    }, function () { place.textContent = words.res_no_geo; }, {enableHighAccuracy: true, timeout: 15000});
  });

  // -- the nearby reports of the same kind: follow one instead of reporting it again
  function category() {
    var c = form.querySelector("input[name=category]:checked");
    return c ? c.value : "";
  }

  function lookNearby() {
    if (!category() || !lonIn.value) { nearby.hidden = true; return; }
    var q = "category=" + encodeURIComponent(category()) + "&lon=" + lonIn.value + "&lat=" + latIn.value +
      "&lang=" + document.documentElement.lang.slice(0, 2);
    fetch("/resident/nearby?" + q, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (data) {
        nearby.textContent = "";
        if (!data.cases || !data.cases.length) { nearby.hidden = true; return; }
        var h = document.createElement("h2"); h.textContent = words.res_nearby; nearby.appendChild(h);
        var p = document.createElement("p"); p.className = "hint"; p.textContent = words.res_nearby_hint;
        nearby.appendChild(p);
        var ul = document.createElement("ul");
        data.cases.forEach(function (c) {
          var li = document.createElement("li");
          li.textContent = "#" + c.id + " " + c.title + " · " + c.status + " · " + Math.round(c.distance_m) +
            words.res_metres + " · " + c.follows + " " + words.res_follows + " ";
          var b = document.createElement("button");
          b.type = "button"; b.className = "follow"; b.dataset.case = c.id; b.textContent = words.res_follow;
          b.addEventListener("click", function () { follow(c.id); });
          li.appendChild(b); ul.appendChild(li);
        });
        nearby.appendChild(ul);
        nearby.hidden = false;
      }).catch(function () { nearby.hidden = true; });
  }

  function follow(caseId) {
    var f = document.getElementById("follow-form");
    if (send.disabled) { return; }  // the proof is not ready yet
    document.getElementById("follow-case").value = String(caseId);
    document.getElementById("follow-phone").value = document.getElementById("report-phone").value;
    f.submit();
  }

  form.querySelectorAll("input[name=category]").forEach(function (el) {
    el.addEventListener("change", lookNearby);
  });
  if (lonIn.value && latIn.value) { setPlace(parseFloat(lonIn.value), parseFloat(latIn.value), ""); }
})();
