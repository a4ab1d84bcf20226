/* The field app's service worker (scope /m): the shell cache-first (refreshed behind), the pages
   network-first with the last copy as the fallback in a dead zone. Writes (POST) are never touched:
   the page's outbox sends them. */
"use strict";
var SHELL = "m-shell-v1", PAGES = "m-pages-v1";
var SHELL_URLS = ["/m/static/field.js", "/m/static/field.css", "/m/static/icon-192.png", "/m/manifest.webmanifest"];

self.addEventListener("install", function (ev) {
  ev.waitUntil(caches.open(SHELL).then(function (c) { return c.addAll(SHELL_URLS); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (ev) {
  ev.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== SHELL && k !== PAGES; }).map(function (k) {
      return caches.delete(k);
    }));
  }).then(function () { return self.clients.claim(); }));
});

function shell(req) {
  return caches.open(SHELL).then(function (c) {
    return c.match(req).then(function (hit) {
      var fresh = fetch(req).then(function (resp) {
        if (resp.ok) { c.put(req, resp.clone()); }
        return resp;
      });
      return hit || fresh;
    });
  });
}

function page(req) {
  return fetch(req).then(function (resp) {
    // A redirect (to /m/login) or an error is not the person's page: keep the last good copy.
    if (resp.ok && !resp.redirected && resp.type === "basic") {
      var copy = resp.clone();
      caches.open(PAGES).then(function (c) { c.put(req.url, copy); });
    }
    return resp;
  }, function () {
    return caches.open(PAGES).then(function (c) {
      return c.match(req.url).then(function (hit) { return hit || c.match(new URL("/m", req.url).href); });
    }).then(function (hit) {
      return hit || new Response("离线 · offline", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    });
  });
}

self.addEventListener("fetch", function (ev) {
  var req = ev.request, url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) { return; }
  var path = url.pathname;
  if (path !== "/m" && path.indexOf("/m/") !== 0) { return; }  // the scope /m also matches /map…: not ours
  if (path.indexOf("/m/api/") === 0 || path === "/m/sw.js" || path === "/m/login") { return; }
  if (path.indexOf("/m/static/") === 0 || path === "/m/manifest.webmanifest") {
    ev.respondWith(shell(req));
    return;
  }
  ev.respondWith(page(req));
});
