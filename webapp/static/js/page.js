/* Map pages: filters (status, kind, country, layer, year), the feature table (sort, select, follows the map
 * both ways), statistics, legend, filtered downloads, permalinks (#zoom/lat/lon + query) and the embed snippet.
 * Page data comes from <script type="application/json" id="mapsvc-page">; the map from MapSvc (mapsvc.js).
 * Every part is optional: embeds have no table, analysis pages only the snippet.
 */
(function () {
    "use strict";
    var MapSvc = window.MapSvc || {};
    var dataTag = document.getElementById("mapsvc-page");
    var page = dataTag ? JSON.parse(dataTag.textContent) : null;
    var map = MapSvc.map;
    var params = new URLSearchParams(location.search);
    var off = [];
    var selected = null;  // {layerId, id}
    document.documentElement.classList.add("js");

    function $(selector, root) { return (root || document).querySelector(selector); }
    function $$(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
    function list(value) { return (value || "").split(",").map(function (v) { return v.trim(); }).filter(Boolean); }
    function km(value) { return value.toLocaleString("en", {minimumFractionDigits: 1, maximumFractionDigits: 1}); }

    // --- the embed snippet (also on analysis pages) ---------------------------------------------------
    var snippetBox = $("#embed-snippet"), embedBasemap = $("#embed-basemap");
    function embedSrc() {
        if (!page) { return null; }
        var url = new URL(page.embedUrl, location.href), q = url.searchParams;
        new URLSearchParams(location.search).forEach(function (value, key) {
            if (key !== "basemap" && key !== "layers") { q.set(key, value); }
        });
        var basemap = embedBasemap ? embedBasemap.value : "none";
        if (basemap && basemap !== "none") { q.set("basemap", basemap); } else { q.delete("basemap"); }
        url.hash = location.hash;
        return url.toString();
    }
    function updateSnippet() {
        if (!snippetBox || !page) { return; }
        var holder = document.createElement("div");
        holder.innerHTML = snippetBox.value;  // the server's snippet: keep its markup, change the address
        var frame = holder.querySelector("iframe"), link = holder.querySelector("figcaption a");
        if (!frame) { return; }
        frame.setAttribute("src", embedSrc());
        if (link) { link.setAttribute("href", location.href); }
        snippetBox.value = holder.innerHTML;
    }
    if (embedBasemap) { embedBasemap.addEventListener("change", updateSnippet); }
    var copy = $("#copy-snippet");
    if (copy && snippetBox) {
        copy.addEventListener("click", function () {
            snippetBox.select();
            if (navigator.clipboard) { navigator.clipboard.writeText(snippetBox.value).catch(function () {}); }
            else { document.execCommand("copy"); }
            copy.textContent = "Copied";
        });
    }
    if (!page || !map || !MapSvc.layers) { return; }

    // --- rows of the feature table ------------------------------------------------------------------------
    var table = $("#feature-table");
    var rows = table ? $$("tbody tr", table).map(function (tr) {
        var d = tr.dataset;
        return {tr: tr, props: {layer: d.layer, id: d.id, kind: d.kind, status: d.status || null,
                                countries: list(d.countries.replace(/ /g, ",")), _h: JSON.parse(d.history || "[]")},
                km: d.km === "" ? null : Number(d.km), reported: d.reported === "" ? null : Number(d.reported),
                ratio: d.ratio === "" ? null : Number(d.ratio),
                statusHtml: ($("[data-cell=status]", tr) || {}).innerHTML};
    }) : [];

    function layerShown(id) {
        var rec = MapSvc.layers[id];
        return !!rec && map.hasLayer(rec.group);
    }

    function refresh(visible) {
        var f = MapSvc.filter, count = 0, total = 0, byStatus = {}, statusesOnMap = {};
        rows.forEach(function (row) {
            var status = MapSvc.statusIn(row.props, f.year);
            var show = layerShown(row.props.layer) && MapSvc.matches(row.props, f);
            row.tr.hidden = !show;
            var cell = $("[data-cell=status]", row.tr);
            // today's status keeps its "as of <date>" source link; a chosen year shows that year's status
            if (cell) { if (f.year == null) { cell.innerHTML = row.statusHtml; } else { cell.textContent = status || ""; } }
            if (show) {
                count += 1;
                total += row.km || 0;
                var s = byStatus[status || "none"] = byStatus[status || "none"] || [0, 0];
                s[0] += 1;
                s[1] += row.km || 0;
            }
        });
        var summary = $("#feature-summary");
        if (summary) {
            var parts = Object.keys(byStatus).sort().map(function (s) {
                return s + " " + byStatus[s][0] + (byStatus[s][1] ? " (" + km(byStatus[s][1]) + " km)" : "");
            });
            summary.textContent = count + " of " + rows.length + " features shown" +
                (total ? " \u00b7 " + km(total) + " km of lines (geodesic)" : "") +
                (f.year ? " in " + f.year : "") + (parts.length ? ": " + parts.join("; ") : "");
        }
        // the legend lists what is drawn
        Object.keys(MapSvc.layers).forEach(function (lid) {
            var rec = MapSvc.layers[lid];
            var ids = (visible && visible[lid]) || [];
            if (!layerShown(lid)) { ids = []; }
            ids.forEach(function (fid) {
                var layer = MapSvc.find(lid, fid);
                if (layer) { statusesOnMap[MapSvc.statusIn(layer.feature.properties, f.year)] = true; }
            });
            $$('.mapsvc-legend li[data-layer="' + lid + '"]').forEach(function (li) { li.hidden = !ids.length; });
            rec.shownIds = ids;
        });
        $$(".mapsvc-legend li[data-status]").forEach(function (li) { li.hidden = !statusesOnMap[li.dataset.status]; });
        updateDownloads();
    }

    function updateDownloads() {
        var f = MapSvc.filter;
        $$("#filtered-downloads li[data-layer]").forEach(function (li) {
            var lid = li.dataset.layer;
            li.hidden = !layerShown(lid);
            $$("a[data-format]", li).forEach(function (a) {
                var url = new URL(a.getAttribute("href"), location.href), q = new URLSearchParams();
                q.set("format", a.dataset.format);
                if (f.status.length) { q.set("status", f.status.join(",")); }
                if (f.kind.length) { q.set("kind", f.kind.join(",")); }
                if (f.countries.length) { q.set("countries", f.countries.join(",")); }
                // the download contract has no year: name the features shown in that year
                if (f.year) { q.set("id", ((MapSvc.layers[lid] || {}).shownIds || []).join(",")); }
                a.setAttribute("href", url.pathname + "?" + q.toString());
            });
        });
    }

    // --- the URL: #zoom/lat/lon (the view) and the query (filters, layers off, selection) ------------------
    function writeUrl() {
        var q = new URLSearchParams(location.search), f = MapSvc.filter;
        [["status", f.status], ["kind", f.kind], ["countries", f.countries], ["off", off]].forEach(function (kv) {
            if (kv[1].length) { q.set(kv[0], kv[1].join(",")); } else { q.delete(kv[0]); }
        });
        if (f.year) { q.set("year", String(f.year)); } else { q.delete("year"); }
        if (selected) { q.set("feature", selected.id); } else { q.delete("feature"); }
        ["zoom", "lat", "lon"].forEach(function (k) { q.delete(k); });
        var c = map.getCenter(), z = map.getZoom();
        var qs = q.toString().replace(/%2C/g, ",");
        history.replaceState(null, "", location.pathname + (qs ? "?" + qs : "") + "#" + z + "/" +
                             c.lat.toFixed(4) + "/" + c.lng.toFixed(4));
        updateSnippet();
    }

    function readView() {
        var m = /^#(\d{1,2})\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(location.hash);
        var z = m ? m[1] : params.get("zoom"), lat = m ? m[2] : params.get("lat"), lon = m ? m[3] : params.get("lon");
        if (z === null || lat === null || lon === null) { return null; }
        z = Number(z); lat = Number(lat); lon = Number(lon);
        if (!isFinite(z) || !isFinite(lat) || !isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) { return null; }
        return {center: [lat, lon], zoom: z};
    }

    // --- filters from the form -------------------------------------------------------------------------------
    var form = $("#map-filters");
    function control(name) { return form ? $('[data-filter="' + name + '"]', form) : null; }

    function fromForm() {
        var yearOn = control("year-on"), year = control("year"), out = control("year-out");
        if (year && yearOn) {
            year.disabled = !yearOn.checked;
            if (out) { out.textContent = yearOn.checked ? year.value : "today"; }
        }
        MapSvc.setFilter({
            status: list(control("status") && control("status").value),
            kind: list(control("kind") && control("kind").value),
            countries: list(control("countries") && control("countries").value),
            year: yearOn && yearOn.checked && year ? Number(year.value) : null
        });
        writeUrl();
    }

    function setOff(ids) {
        off = ids.filter(function (id) { return MapSvc.layers[id]; });
        Object.keys(MapSvc.layers).forEach(function (id) {
            var rec = MapSvc.layers[id], want = off.indexOf(id) < 0;
            if (want && !map.hasLayer(rec.group)) { map.addLayer(rec.group); }
            if (!want && map.hasLayer(rec.group)) { map.removeLayer(rec.group); }
        });
    }

    if (form) {
        form.addEventListener("change", function (e) {
            if (e.target.dataset.filter === "layer") {
                var only = e.target.value;
                setOff(only ? Object.keys(MapSvc.layers).filter(function (id) { return id !== only; }) : []);
            }
            fromForm();
        });
        form.addEventListener("input", function (e) { if (e.target.type === "range") { fromForm(); } });
        form.addEventListener("submit", function (e) { e.preventDefault(); fromForm(); });
        var reset = control("reset");
        if (reset) {
            reset.addEventListener("click", function () {
                $$("select", form).forEach(function (s) { s.value = ""; });
                if (control("year-on")) { control("year-on").checked = false; }
                setOff([]);
                fromForm();
            });
        }
    }

    document.addEventListener("mapsvc:filter", function (e) { refresh(e.detail.visible); });
    document.addEventListener("mapsvc:layer", function (e) {
        var id = e.detail.layerId;
        off = off.filter(function (o) { return o !== id; });
        if (!e.detail.visible) { off.push(id); }
        MapSvc.applyFilter();
        writeUrl();
    });

    // --- the table: sort, select, follow the map ---------------------------------------------------------------
    function markRow(sel) {
        rows.forEach(function (row) {
            var on = !!sel && row.props.layer === sel.layerId && row.props.id === sel.id;
            row.tr.classList.toggle("selected", on);
            if (on) { row.tr.setAttribute("aria-current", "true"); } else { row.tr.removeAttribute("aria-current"); }
        });
    }
    document.addEventListener("mapsvc:select", function (e) { selected = e.detail; markRow(selected); writeUrl(); });
    document.addEventListener("mapsvc:deselect", function (e) {
        if (selected && selected.id === e.detail.id) { selected = null; markRow(null); writeUrl(); }
    });
    if (table) {
        table.addEventListener("click", function (e) {
            var link = e.target.closest("a[data-select]");
            if (!link) { return; }
            var tr = link.closest("tr");
            if (MapSvc.select(tr.dataset.layer, tr.dataset.id)) {
                e.preventDefault();
                $("#map-main").scrollIntoView({block: "nearest"});
            }
        });
        $$("thead button[data-sort]", table).forEach(function (button) {
            button.addEventListener("click", function () {
                var th = button.closest("th"), key = button.dataset.sort, numeric = "numeric" in button.dataset;
                var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
                $$("thead th", table).forEach(function (h) { h.setAttribute("aria-sort", "none"); });
                th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
                var col = $$("thead th", table).indexOf(th);
                function value(row) {
                    if (numeric) { return row[key]; }
                    return (row.tr.children[col].textContent || "").trim().toLowerCase();
                }
                rows.sort(function (a, b) {
                    var x = value(a), y = value(b);
                    if (x === null || x === "") { return 1; }   // blanks last either way
                    if (y === null || y === "") { return -1; }
                    return (x < y ? -1 : x > y ? 1 : 0) * dir;
                });
                var body = $("tbody", table);
                rows.forEach(function (row) { body.appendChild(row.tr); });
            });
        });
    }

    // --- start: layers off, filters, view and selection from the URL -----------------------------------------
    var view = readView();  // before anything rewrites the hash
    // no ?off= in the URL: keep the layers the server started switched off (too large to embed on the overview)
    setOff(params.has("off") ? list(params.get("off"))
                             : Object.keys(MapSvc.layers).filter(function (id) { return !map.hasLayer(MapSvc.layers[id].group); }));
    var f0 = page.filters || {};
    MapSvc.setFilter({status: f0.status || [], kind: f0.kind || [], countries: f0.countries || [], year: f0.year || null});
    if (view) { map.setView(view.center, view.zoom, {animate: false}); }
    if (params.get("feature")) {
        Object.keys(MapSvc.layers).forEach(function (lid) {
            if (MapSvc.find(lid, params.get("feature"))) { selected = {layerId: lid, id: params.get("feature")}; }
        });
        markRow(selected);
    }
    map.on("moveend", writeUrl);
    if (view || location.search) { updateSnippet(); }
}());
