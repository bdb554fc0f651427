/* Printing a map page: before the browser lays out the printed page, give the map its printed size
   (print.css, html.mapsvc-printing), fit the view that was on screen into it, set out the legend,
   expanded, under the map, and note the page's address; afterwards put everything back as it was.

   Works with the map exposed by the page hooks (window.mapsvc.map); pages without a map still get the
   address line. Browsers fire beforeprint/afterprint; the print media query is watched as well, for
   the ones that only switch media. */
(function () {
    "use strict";
    var state = null;

    function theMap() {
        return window.mapsvc && window.mapsvc.map ? window.mapsvc.map : null;
    }

    function miniMaps(map) {
        // A mini-map follows the main map and pushes it back when it moves itself (as it does when the
        // page is laid out for paper and back), which would undo the restored view: it is taken off
        // while printing. Leaflet keeps no list of a map's controls; folium declares each one as a
        // page-level variable, so they are found there.
        var found = [];
        if (!window.L || !L.Control || !L.Control.MiniMap) { return found; }
        Object.keys(window).forEach(function (key) {
            var value = null;
            try { value = window[key]; } catch (e) { return; }
            if (value instanceof L.Control.MiniMap && value._map === map) { found.push(value); }
        });
        return found;
    }

    function printedLegends() {
        // The legend, expanded, under the map rather than over it: a copy in columns, so that a long
        // legend covers no part of the map and is not cut off by the frame.
        var copies = [];
        document.querySelectorAll(".leaflet-container").forEach(function (container) {
            var legend = container.querySelector("details.mapsvc-legend");
            var frame = container.closest(".map-frame, .embed-frame") || container;
            if (!legend) { return; }
            var copy = document.createElement("div");
            copy.className = "print-legend";
            var head = document.createElement("div");
            head.className = "mapsvc-legend-head print-legend-title";
            head.textContent = "Legend";
            copy.appendChild(head);
            Array.prototype.forEach.call(legend.children, function (child) {
                if (child.tagName !== "SUMMARY") { copy.appendChild(child.cloneNode(true)); }
            });
            frame.parentNode.insertBefore(copy, frame.nextSibling);
            copies.push(copy);
        });
        return copies;
    }

    function beforePrint() {
        if (state) { return; }
        var map = theMap();
        state = {opened: [], note: null, map: map};
        if (map) {  // what was on screen, before the frame changes size
            state.bounds = map.getBounds();
            state.center = map.getCenter();
            state.zoom = map.getZoom();
        }
        document.documentElement.classList.add("mapsvc-printing");
        document.querySelectorAll("details.mapsvc-legend").forEach(function (legend) {
            if (!legend.open) { legend.open = true; state.opened.push(legend); }
        });
        state.legends = printedLegends();
        var note = document.createElement("p");
        note.className = "print-url";
        note.textContent = "Printed from " + window.location.href;
        var main = document.querySelector("main") || document.body;
        var heading = main.querySelector("h1");
        if (heading) {  // beside the title, where the line has room: a long list of sources can fill the sheet
            note.classList.add("print-url-head");
            heading.parentNode.insertBefore(note, heading);
        } else {
            main.appendChild(note);
        }
        state.note = note;
        if (map) {
            state.miniMaps = miniMaps(map);
            state.miniMaps.forEach(function (control) { map.removeControl(control); });
            state.zoomSnap = map.options.zoomSnap;
            map.options.zoomSnap = 0;  // fit the same ground exactly, not the nearest whole zoom level
            map.invalidateSize({animate: false, pan: false});
            map.fitBounds(state.bounds, {animate: false, padding: [0, 0]});
        }
    }

    function afterPrint() {
        if (!state) { return; }
        var saved = state;
        state = null;
        document.documentElement.classList.remove("mapsvc-printing");
        saved.opened.forEach(function (legend) { legend.open = false; });
        saved.legends.forEach(function (copy) { copy.remove(); });
        if (saved.note) { saved.note.remove(); }
        if (saved.map) {
            saved.map.options.zoomSnap = saved.zoomSnap;
            saved.map.invalidateSize({animate: false, pan: false});
            saved.map.setView(saved.center, saved.zoom, {animate: false});
            saved.miniMaps.forEach(function (control) { control.addTo(saved.map); });
        }
    }

    window.addEventListener("beforeprint", beforePrint);
    window.addEventListener("afterprint", afterPrint);
    if (window.matchMedia) {
        var query = window.matchMedia("print");
        var follow = function (e) { if (e.matches) { beforePrint(); } else { afterPrint(); } };
        if (query.addEventListener) { query.addEventListener("change", follow); } else { query.addListener(follow); }
    }
    window.mapsvcPrint = {before: beforePrint, after: afterPrint};  // for tests and for print buttons
})();
