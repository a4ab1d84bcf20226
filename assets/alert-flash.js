/* The red/orange warning banner (.alert) of the dashboard flashes by an attribute flipped every
 * 1.2 s, not by a CSS animation. While any CSS animation runs, the browser composites a new frame
 * sixty times a second; without a GPU (software rendering: headless Chromium, and many command-centre
 * PCs) that took most of a CPU core and slowed the map's first drawing by about a second on a 2-core
 * machine (bench/cold_load.py). Flipping an attribute repaints the banner once per flip and nothing between. */
(function () {
    if (window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches) {
        return;
    }
    window.setInterval(function () {
        var banners = document.querySelectorAll('.alert:not([hidden])');
        for (var i = 0; i < banners.length; i++) {
            banners[i].toggleAttribute('data-dim');
        }
    }, 1200);
})();
