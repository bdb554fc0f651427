/* The map's search box: places, projects (names, ids, aliases) and coordinates (decimal or DMS) from
 * GET /api/search, as an ARIA combobox (arrows, Enter, Escape). Choosing a project zooms to it and opens its
 * popup (or opens its layer's map when it is not on this one); a place or a coordinate gets a marker.
 */
(function () {
    "use strict";
    var MapSvc = window.MapSvc || {};
    var tag = document.getElementById("mapsvc-page");
    var page = tag ? JSON.parse(tag.textContent) : null;
    var map = MapSvc.map;
    if (!page || !page.searchUrl || !map) { return; }
    var DEBOUNCE_MS = 180, PLACE_ZOOM = 9;
    var marker = L.layerGroup().addTo(map);
    var results = [], active = -1, timer = null, serial = 0;

    var control = L.control({position: "topleft"});
    var input, listbox, status;
    control.onAdd = function () {
        var div = L.DomUtil.create("div", "mapsvc-search leaflet-control");
        div.setAttribute("role", "search");
        input = L.DomUtil.create("input", "", div);
        input.type = "search";
        input.placeholder = "Search places, projects, lat,lon";
        input.setAttribute("aria-label", "Search places, projects or coordinates");
        input.setAttribute("role", "combobox");
        input.setAttribute("aria-autocomplete", "list");
        input.setAttribute("aria-expanded", "false");
        input.setAttribute("aria-controls", "mapsvc-search-results");
        input.autocomplete = "off";
        listbox = L.DomUtil.create("ul", "", div);
        listbox.id = "mapsvc-search-results";
        listbox.setAttribute("role", "listbox");
        listbox.setAttribute("aria-label", "Search results");
        status = L.DomUtil.create("div", "mapsvc-visually-hidden", div);
        status.setAttribute("role", "status");
        status.style.cssText = "position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)";
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
    };
    control.addTo(map);
    var corner = control.getContainer().parentNode;  // first in its corner, above the zoom buttons
    corner.insertBefore(control.getContainer(), corner.firstChild);

    function option(text, detail, index, note) {
        var li = document.createElement("li");
        li.id = "mapsvc-search-option-" + index;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = text;
        if (detail) {
            var small = document.createElement("small");
            small.textContent = detail;
            li.appendChild(small);
        }
        if (note) { li.className = "mapsvc-search-note"; }
        return li;
    }

    function show(answer) {
        listbox.textContent = "";
        results = [];
        active = -1;
        (answer.results || []).forEach(function (r) {
            results.push(r);
            listbox.appendChild(option(r.name, r.detail, results.length - 1));
        });
        (answer.suggestions || []).forEach(function (s) {
            results.push({type: "suggestion", name: s});
            listbox.appendChild(option("Did you mean " + s + "?", null, results.length - 1));
        });
        if (!results.length) { listbox.appendChild(option("Nothing found", null, -1, true)); }
        input.setAttribute("aria-expanded", "true");
        status.textContent = results.length ? results.length + " results" : "Nothing found";
    }

    function close() {
        listbox.textContent = "";
        input.setAttribute("aria-expanded", "false");
        input.removeAttribute("aria-activedescendant");
        active = -1;
    }

    function query(text) {
        var mine = ++serial;
        fetch(page.searchUrl + "?q=" + encodeURIComponent(text))
            .then(function (r) { return r.json(); })
            .then(function (answer) {
                if (mine === serial && input.value.trim()) { show(answer.error ? {results: []} : answer); }
            }, function () { if (mine === serial) { show({results: []}); } });
        return mine;
    }

    function highlight(index) {
        var items = listbox.querySelectorAll("[role=option]");
        if (!results.length) { return; }
        active = (index + results.length) % results.length;
        Array.prototype.forEach.call(items, function (li, i) { li.setAttribute("aria-selected", String(i === active)); });
        input.setAttribute("aria-activedescendant", "mapsvc-search-option-" + active);
        if (items[active]) { items[active].scrollIntoView({block: "nearest"}); }
    }

    function placeMarker(r) {
        marker.clearLayers();
        var box = document.createElement("div"), title = document.createElement("b");
        title.textContent = r.name;
        box.appendChild(title);
        [r.detail, r.source && ("Source: " + r.source.title),
         r.lat.toFixed(5) + ", " + r.lon.toFixed(5)].forEach(function (line) {
            if (line) { var p = document.createElement("div"); p.textContent = line; box.appendChild(p); }
        });
        var m = L.circleMarker([r.lat, r.lon], {radius: 8, color: "#fff", weight: 2, fillColor: "#c0392b",
                                                fillOpacity: 1}).bindPopup(box).addTo(marker);
        map.setView([r.lat, r.lon], Math.min(PLACE_ZOOM, map.getMaxZoom()), {animate: false});
        m.openPopup();
    }

    function choose(index) {
        var r = results[index];
        if (!r) { return; }
        if (r.type === "suggestion") { input.value = r.name; query(r.name); return; }
        close();
        input.value = r.name;
        status.textContent = "Showing " + r.name;
        if (r.type === "feature") {
            marker.clearLayers();
            if (!MapSvc.select(r.layer, r.id)) {  // not on this map: open the map of its layer
                var base = page.searchUrl.replace(/api\/search$/, "");
                window.location.href = base + "map/" + encodeURIComponent(r.layer) + "?feature=" + encodeURIComponent(r.id);
            }
        } else {
            placeMarker(r);
        }
    }

    input.addEventListener("input", function () {
        clearTimeout(timer);
        var text = input.value.trim();
        if (!text) { close(); return; }
        timer = setTimeout(function () { query(text); }, DEBOUNCE_MS);
    });
    input.addEventListener("keydown", function (e) {
        if (e.key === "ArrowDown") { e.preventDefault(); highlight(active + 1); }
        else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active - 1); }
        else if (e.key === "Escape") { close(); }
        else if (e.key === "Enter") {
            e.preventDefault();
            clearTimeout(timer);
            if (active >= 0) { choose(active); return; }
            var text = input.value.trim();
            if (!text) { return; }
            // Enter before the suggestions arrived: search now and take the best result
            var mine = ++serial;
            fetch(page.searchUrl + "?q=" + encodeURIComponent(text)).then(function (r) { return r.json(); })
                .then(function (answer) {
                    if (mine !== serial) { return; }
                    show(answer.error ? {results: []} : answer);
                    if (results.length && results[0].type !== "suggestion") { choose(0); }
                });
        }
    });
    listbox.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep focus in the box
    listbox.addEventListener("click", function (e) {
        var li = e.target.closest("[role=option]");
        if (li && li.id) { choose(Number(li.id.replace("mapsvc-search-option-", ""))); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    MapSvc.search = {input: input, choose: choose};
}());
