/* Map service: catalogue layers on a Leaflet map (styles, popups, tooltips, wide hit lines, keyboard access),
 * filters by status, kind, country and year, and selection. Loaded by every map page, embed and export;
 * the folium elements call MapSvc.featureLayer and MapSvc.init, and the page scripts use the rest.
 */
(function () {
    "use strict";
    var MapSvc = window.MapSvc = window.MapSvc || {};
    MapSvc.HIT_WEIGHT_PX = 16;      // invisible line under each styled line: a click within 8 px hits it (Leaflet
                                    // smooths drawn paths by up to 1 px, so 6 px off the geometry always hits)
    MapSvc.KEYBOARD_MAX = 300;      // layers with more features are not put in the tab order (the table is)
    MapSvc.layers = MapSvc.layers || {};
    MapSvc.filter = {status: [], kind: [], countries: [], year: null};
    MapSvc.statusStyles = {};

    function emit(name, detail) {
        document.dispatchEvent(new CustomEvent(name, {detail: detail}));
    }
    MapSvc.emit = emit;

    // --- status in a year (dated facts: status_history, last entry dated <= year-12-31) -------------
    MapSvc.statusIn = function (props, year) {
        var history = props._h;
        if (!year || !history || !history.length) { return props.status; }
        var end = String(year) + "-12-31", status = null;
        for (var i = 0; i < history.length; i++) {
            if (String(history[i][0]) <= end) { status = history[i][1]; }
        }
        return status;  // null: not yet proposed in that year
    };

    MapSvc.matches = function (props, f) {
        f = f || MapSvc.filter;
        var status = MapSvc.statusIn(props, f.year);
        if (f.year && status === null) { return false; }
        if (f.status.length && f.status.indexOf(status) < 0) { return false; }
        if (f.kind.length && f.kind.indexOf(props.kind) < 0) { return false; }
        if (f.countries.length) {
            var codes = props.countries || [];
            if (!codes.some(function (c) { return f.countries.indexOf(c) >= 0; })) { return false; }
        }
        return true;
    };

    // --- one catalogue layer ------------------------------------------------------------------------
    function styleOf(styles, f) {
        return f.properties._style || styles[f.properties._s] || {};
    }

    function isLine(layer) {
        return layer.feature && layer.getLatLngs && layer.feature.geometry.type.indexOf("LineString") >= 0;
    }

    function highlight(layer, on) {
        if (!layer.setStyle) { return; }
        if (on && !layer._mapsvcSaved) {
            layer._mapsvcSaved = {weight: layer.options.weight, opacity: layer.options.opacity};
            layer.setStyle({weight: (layer.options.weight || 3) + 3, opacity: 1});
        } else if (!on && layer._mapsvcSaved) {
            layer.setStyle(layer._mapsvcSaved);
            layer._mapsvcSaved = null;
        }
    }
    MapSvc.highlight = highlight;

    function label(layer, title, keyboard) {
        var el = layer.getElement && layer.getElement();
        if (!el || el._mapsvcLabelled) { return; }
        el._mapsvcLabelled = true;
        el.setAttribute("aria-label", layer.feature.properties.name + " (" + title + ")");
        if (!keyboard) { el.setAttribute("role", "img"); return; }
        el.setAttribute("role", "button");
        el.setAttribute("tabindex", "0");
        if (layer._path) {  // markers open their popup on Enter themselves
            el.addEventListener("keydown", function (ev) {
                if (ev.key === "Enter" || ev.key === " ") {
                    ev.preventDefault();
                    layer.openPopup(layer.getCenter ? layer.getCenter() : undefined);
                }
            });
            el.addEventListener("focus", function () { highlight(layer, true); });
            el.addEventListener("blur", function () { highlight(layer, false); });
        }
    }

    function hitLine(layer) {
        var hit = L.polyline(layer.getLatLngs(), {
            weight: MapSvc.HIT_WEIGHT_PX, opacity: 0, color: "#000", lineCap: "round", lineJoin: "round",
            className: "mapsvc-hit", bubblingMouseEvents: false
        });
        hit.on("click", function (e) { layer.openPopup(e.latlng); });
        hit.on("mouseover", function (e) { highlight(layer, true); layer.openTooltip(e.latlng); });
        hit.on("mousemove", function (e) { if (layer.getTooltip()) { layer.getTooltip().setLatLng(e.latlng); } });
        hit.on("mouseout", function () { highlight(layer, false); layer.closeTooltip(); });
        return hit;
    }

    /* Build the Leaflet layers of one catalogue layer. data: GeoJSON FeatureCollection with slim properties
     * (id, name, kind, status, countries, _s or _style, _popup, _h, geometry_quality); o: {layerId, title,
     * icons: {kind: AwesomeMarkers options}, popupUrl, displayUrl, band, bandZooms, attribution: [parts],
     * layerOptions}. Returns the L.featureGroup the layer control toggles. */
    MapSvc.featureLayer = function (map, data, o) {
        var styles = data.styles || [], icons = {};
        Object.keys(o.icons || {}).forEach(function (k) { icons[k] = L.AwesomeMarkers.icon(o.icons[k]); });
        var keyboard = (data.features || []).length <= MapSvc.KEYBOARD_MAX;
        var rec = {id: o.layerId, title: o.title, all: [], hitOf: {}, haloOf: {}};
        var halo = L.geoJson(data, {
            interactive: false,
            filter: function (f) {
                return (o.haloQualities || ["schematic"]).indexOf(f.properties.geometry_quality) >= 0
                    && f.geometry.type.indexOf("Point") < 0;
            },
            style: function (f) {
                var s = styleOf(styles, f);
                return {color: s.color, weight: s.weight + 9, opacity: 0.18, lineCap: "round", lineJoin: "round",
                        fill: false};
            }
        });
        var hits = L.featureGroup();
        var features = L.geoJson(data, {
            style: function (f) { return styleOf(styles, f); },
            pointToLayer: function (f, latlng) {
                if (f.properties._circle) { return L.circleMarker(latlng, styleOf(styles, f)); }
                return L.marker(latlng, {icon: icons[f.properties.kind] || icons[""],
                                         opacity: styleOf(styles, f).opacity, keyboard: keyboard,
                                         title: f.properties.name, alt: f.properties.name});
            },
            onEachFeature: function (f, layer) {
                var tip = document.createElement("span");
                tip.textContent = f.properties.name;
                layer.bindTooltip(tip, {sticky: f.geometry.type !== "Point"});
                if (o.popupUrl) {
                    layer.bindPopup("Loading\u2026", {maxWidth: 400, maxHeight: 380});
                    layer.on("popupopen", function (e) {
                        var url = o.popupUrl.replace("{fid}", encodeURIComponent(f.properties.id));
                        fetch(url).then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
                            .then(function (html) { e.popup.setContent(html); },
                                  function () { e.popup.setContent("Details unavailable."); });
                    });
                } else {
                    layer.bindPopup(f.properties._popup, {maxWidth: 400, maxHeight: 380});
                }
                if (layer.setStyle) {
                    layer.on("mouseover", function () { highlight(layer, true); });
                    layer.on("mouseout", function () { highlight(layer, false); });
                }
                layer.on("add", function () { label(layer, o.title, keyboard); });
                layer.on("popupopen", function () { emit("mapsvc:select", {layerId: o.layerId, id: f.properties.id}); });
                layer.on("popupclose", function () { emit("mapsvc:deselect", {layerId: o.layerId, id: f.properties.id}); });
            }
        });
        function index() {
            rec.all = [];
            rec.hitOf = {};
            rec.haloOf = {};
            hits.clearLayers();
            features.eachLayer(function (layer) {
                rec.all.push(layer);
                if (isLine(layer)) {
                    var hit = hitLine(layer);
                    hits.addLayer(hit);
                    rec.hitOf[L.stamp(layer)] = hit;
                }
            });
            halo.eachLayer(function (h) { rec.haloOf[h.feature.properties.id] = h; });
        }
        index();
        var group = L.featureGroup([halo, hits, features], o.layerOptions || {});
        rec.group = group;
        rec.features = features;
        rec.hits = hits;
        rec.halo = halo;
        rec.map = map;
        rec.reindex = index;
        MapSvc.layers[o.layerId] = rec;
        MapSvc.credit(map, group, o.attribution || []);
        if (o.displayUrl) { refineByZoom(map, rec, o); }
        return group;
    };

    // Credit each attribution part once however many visible layers share it: Leaflet's control counts
    // additions per distinct string.
    MapSvc.credit = function (map, layer, parts) {
        layer.on("add", function () {
            if (map.attributionControl) { parts.forEach(function (p) { map.attributionControl.addAttribution(p); }); }
        });
        layer.on("remove", function () {
            if (map.attributionControl) { parts.forEach(function (p) { map.attributionControl.removeAttribution(p); }); }
        });
    };

    // Zooming in past the embedded zoom band: fetch finer display geometry once per band and redraw (never
    // coarser; an open popup is left alone until it closes).
    function refineByZoom(map, rec, o) {
        var pending = null, waiting = null, popupOpen = false, band = o.band;
        function bandOf(zoom) {
            var b = 0;
            o.bandZooms.forEach(function (z, i) { if (zoom >= z) { b = i; } });
            return b;
        }
        function redraw(data) {
            if (popupOpen) { waiting = data; return; }
            rec.features.clearLayers();
            rec.features.addData(data);
            rec.halo.clearLayers();
            rec.halo.addData(data);
            rec.reindex();
            MapSvc.applyFilter();
        }
        rec.features.on("popupopen", function () { popupOpen = true; });
        rec.features.on("popupclose", function () {
            popupOpen = false;
            if (waiting) { var data = waiting; waiting = null; redraw(data); }
        });
        function refine() {
            if (!map.hasLayer(rec.group)) { return; }  // a layer switched off fetches nothing until it is shown
            var need = bandOf(map.getZoom());
            if (need <= band || (pending !== null && need <= pending)) { return; }
            pending = need;
            fetch(o.displayUrl.replace("{band}", need))
                .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
                .then(function (data) {
                    if (pending === need) { pending = null; }
                    if (need > band) { band = need; redraw(data); }
                    refine();
                }, function () { if (pending === need) { pending = null; } });
        }
        map.on("zoomend", refine);
        rec.group.on("add", function () { setTimeout(refine, 0); });
        setTimeout(refine, 0);
    }

    // --- filters ----------------------------------------------------------------------------------------
    function restyle(layer, status) {
        var s = MapSvc.statusStyles[status];
        if (!s || layer.feature.properties._style) { return; }
        if (layer.setStyle && !layer._mapsvcSaved) {
            layer.setStyle({dashArray: s.dash || null, opacity: s.opacity});
        } else if (layer.setOpacity) {
            layer.setOpacity(s.opacity);
        }
    }

    /* Show the features that match MapSvc.filter, styled by their status in the filter's year; fires
     * "mapsvc:filter" with {visible: {layerId: [feature ids]}}. */
    MapSvc.applyFilter = function () {
        var f = MapSvc.filter, visible = {};
        Object.keys(MapSvc.layers).forEach(function (lid) {
            var rec = MapSvc.layers[lid];
            if (!rec.all) { return; }
            visible[lid] = [];
            rec.all.forEach(function (layer) {
                var props = layer.feature.properties, show = MapSvc.matches(props, f);
                var hit = rec.hitOf[L.stamp(layer)], halo = rec.haloOf[props.id];
                if (show) {
                    visible[lid].push(props.id);
                    if (!rec.features.hasLayer(layer)) { rec.features.addLayer(layer); }
                    if (hit && !rec.hits.hasLayer(hit)) { rec.hits.addLayer(hit); }
                    if (halo && !rec.halo.hasLayer(halo)) { rec.halo.addLayer(halo); }
                    restyle(layer, MapSvc.statusIn(props, f.year));
                } else {
                    rec.features.removeLayer(layer);
                    if (hit) { rec.hits.removeLayer(hit); }
                    if (halo) { rec.halo.removeLayer(halo); }
                }
            });
            if (rec.features.bringToFront && rec.map && rec.map.hasLayer(rec.group)) { rec.features.bringToFront(); }
        });
        emit("mapsvc:filter", {filter: f, visible: visible});
        return visible;
    };

    MapSvc.setFilter = function (changes) {
        Object.keys(changes).forEach(function (k) { MapSvc.filter[k] = changes[k]; });
        return MapSvc.applyFilter();
    };

    // --- selection ----------------------------------------------------------------------------------------
    MapSvc.find = function (layerId, featureId) {
        var rec = MapSvc.layers[layerId], found = null;
        (rec ? rec.all : []).forEach(function (l) { if (l.feature.properties.id === featureId) { found = l; } });
        return found;
    };

    /* Zoom to a feature and open its popup (switching its layer on); false when it is not on this map. */
    MapSvc.select = function (layerId, featureId, options) {
        var rec = MapSvc.layers[layerId], target = MapSvc.find(layerId, featureId);
        if (!target) { return false; }
        var map = rec.map;
        if (!map.hasLayer(rec.group)) { map.addLayer(rec.group); }
        if (!rec.features.hasLayer(target)) { rec.features.addLayer(target); }
        var maxZoom = (options && options.maxZoom) || 9;
        if (target.getBounds) { map.fitBounds(target.getBounds(), {padding: [30, 30], maxZoom: maxZoom, animate: false}); }
        else { map.setView(target.getLatLng(), Math.max(map.getZoom(), Math.min(maxZoom, 9)), {animate: false}); }
        target.openPopup(target.getCenter ? target.getCenter() : undefined);
        return true;
    };

    /* Called once per map by the PageHooks element: the map, its layer groups by id, and the style table. */
    MapSvc.init = function (map, groups, config) {
        MapSvc.map = map;
        MapSvc.statusStyles = (config && config.statusStyles) || {};
        window.mapsvc = {map: map, layers: groups};
        function announce(e, visible) {
            var id = e.layer.options && e.layer.options.layerId;
            if (id) { emit("mapsvc:layer", {layerId: id, visible: visible}); }
        }
        map.on("overlayadd", function (e) { announce(e, true); });
        map.on("overlayremove", function (e) { announce(e, false); });
        // Leaflet only notices window resizes; a frame or container resized by the page (iframes, layout
        // settling, fullscreen) would leave unrendered bands.
        if (window.ResizeObserver) {
            new ResizeObserver(function () { map.invalidateSize(); }).observe(map.getContainer());
        }
        emit("mapsvc:ready", {map: map});
    };
}());
