/* The labelled offline basemap: countries (finer borders fetched per zoom band), city labels placed most
 * important first without overlaps, rivers from the mid zooms, roads and railways (with their numbers) from
 * zoom 7 in a pane of their own, only when no tiles show; the mini-map reuses its countries.
 * Built by the VectorBasemap element (webapp/maps/basemap.py).
 */
(function () {
    "use strict";
    var MapSvc = window.MapSvc = window.MapSvc || {};
    var LABEL_PAD_PX = 3;

    function getJSON(url) {
        return fetch(url).then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
    }

    function bandOf(bands, zoom) {
        var b = 0;
        bands.forEach(function (z, i) { if (zoom >= z) { b = i; } });
        return b;
    }

    function textLabel(text, className) {
        var span = document.createElement("span");
        span.textContent = text;
        return L.divIcon({className: className, html: span, iconSize: null});
    }

    /* Place labels greedily in the order given; a label whose box overlaps one already placed is hidden. */
    function declutter(map, labels) {
        var placed = [], size = map.getSize();
        labels.forEach(function (item) {
            var el = item.marker.getElement();
            if (!el) { return; }
            var show = item.minZoom <= map.getZoom();
            if (show) {
                var p = map.latLngToContainerPoint(item.marker.getLatLng());
                var w = el.offsetWidth || item.width, h = el.offsetHeight || 12;
                item.width = w;
                var box = [p.x - w / 2 - LABEL_PAD_PX, p.y - h / 2 - LABEL_PAD_PX, p.x + w / 2 + LABEL_PAD_PX,
                           p.y + h / 2 + LABEL_PAD_PX];
                show = box[2] > 0 && box[0] < size.x && box[3] > 0 && box[1] < size.y && !placed.some(function (b) {
                    return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3];
                });
                if (show) { placed.push(box); }
            }
            el.style.visibility = show ? "" : "hidden";
        });
    }

    MapSvc.vectorBasemap = function (map, o, inline) {
        var pane = map.createPane(o.pane), labelPane = map.createPane(o.labelPane);
        var roadsPane = map.createPane(o.roadsPane);
        pane.style.zIndex = 250;
        pane.style.pointerEvents = "none";
        roadsPane.style.zIndex = 255;  // above land and rivers, under every layer (overlayPane: 400) and the labels
        roadsPane.style.pointerEvents = "none";
        labelPane.style.zIndex = 260;
        labelPane.style.pointerEvents = "none";
        var sea = L.rectangle(o.region, {pane: o.pane, interactive: false, stroke: false, fillColor: "#cfe0ea",
                                         fillOpacity: 1});
        var fill = o.fill || {};
        /* Countries of the chosen bloc (?blocs=sco) keep their fill, also over tiles. */
        function countryStyle(base) {
            return function (f) {
                var colour = f && f.properties && fill[f.properties.id];
                return colour ? L.extend({}, base, {fillColor: colour, fillOpacity: vector() ? 1 : 0.55}) : base;
            };
        }
        var countries = L.geoJson(null, {pane: o.pane, interactive: false, style: countryStyle(o.landStyle)});
        var rivers = L.geoJson(null, {pane: o.pane, interactive: false,
                                      style: function (f) { return {color: "#8fb8d4", weight: f.properties.rank <= 4 ? 1.6 : 1, opacity: 0.9}; }});
        var roads = L.geoJson(null, {pane: o.roadsPane, interactive: false,
                                     style: function (f) { return f.properties.kind === "rail" ? o.railStyle : o.roadStyle; }});
        var labels = L.layerGroup(), items = [], countryItems = [], cityItems = [], roadItems = [];
        var group = L.featureGroup([sea, countries, rivers, roads, labels]);
        var tilesShown = o.tilesOn, tilesFailed = false, band = -1, riverBand = -1, roadBand = -1, listeners = [];

        function vector() { return !tilesShown || tilesFailed; }

        function setCountries(data) {
            countries.clearLayers();
            countries.addData(data);
            countries.setStyle(countryStyle(vector() ? o.landStyle : o.borderStyle));
            if (!countryItems.length) {
                countryItems = data.features.map(function (f) {
                    var m = L.marker([f.properties._label[1], f.properties._label[0]], {
                        pane: o.labelPane, interactive: false, keyboard: false,
                        icon: textLabel(f.properties.name, "mapsvc-country-label")});
                    labels.addLayer(m);
                    return {marker: m, minZoom: 4, width: 8 * f.properties.name.length};
                });
                items = countryItems.concat(cityItems, roadItems);
            }
            listeners.forEach(function (fn) { fn(data); });
            listeners = [];
            sea.bringToBack();
            rivers.bringToFront();  // finer countries arriving later must not cover the rivers
            relabel();
        }

        function setPlaces(rows) {
            cityItems = rows.map(function (r) {  // [lon, lat, name, rank, min_zoom, capital]
                var m = L.marker([r[1], r[0]], {pane: o.labelPane, interactive: false, keyboard: false,
                                                icon: textLabel(r[2], "mapsvc-city-label" + (r[5] ? " mapsvc-capital" : ""))});
                labels.addLayer(m);
                return {marker: m, minZoom: Math.max(4, Math.floor(r[4])), width: 7 * r[2].length};
            });
            items = countryItems.concat(cityItems, roadItems);  // countries first: they win a collision
            relabel();
        }

        /* Road numbers (M-2, N-35) go last: a city or country label wins a collision. */
        function setRoads(data) {
            roads.clearLayers();
            roads.addData(data);
            roadItems.forEach(function (item) { labels.removeLayer(item.marker); });
            roadItems = [];
            data.features.forEach(function (f) {
                (f.properties._labels || []).forEach(function (p) {
                    var m = L.marker([p[1], p[0]], {pane: o.labelPane, interactive: false, keyboard: false,
                                                    icon: textLabel(f.properties.ref, "mapsvc-road-label")});
                    labels.addLayer(m);
                    roadItems.push({marker: m, minZoom: o.roadsMinZoom, width: 8 * f.properties.ref.length});
                });
            });
            items = countryItems.concat(cityItems, roadItems);
            showRoads();
            relabel();
        }

        function showRoads() {
            roadsPane.style.display = vector() && map.getZoom() >= o.roadsMinZoom ? "" : "none";
        }

        function relabel() {
            var show = vector() && map.getZoom() >= 4;
            map.getPane(o.labelPane).style.display = show ? "" : "none";
            if (show) { declutter(map, items); }
        }

        function restyle() {
            map.getContainer().classList.toggle("mapsvc-offline", vector());
            sea.setStyle({fillOpacity: vector() ? 1 : 0});
            countries.setStyle(countryStyle(vector() ? o.landStyle : o.borderStyle));
            // Without tiles the map zooms only as far as the vector data supports.
            map.setMaxZoom(vector() ? o.offlineMaxZoom : o.tilesMaxZoom);
            load();
            relabel();
        }

        function load() {
            var zoom = map.getZoom(), need = bandOf(o.bands, zoom);
            if (o.countriesUrl && need > band) {
                band = need;
                getJSON(o.countriesUrl.replace("{band}", need)).then(setCountries, function () {});
            }
            var riverNeed = zoom >= o.riversMinZoom ? need : -1;
            if (o.riversUrl && riverNeed > riverBand) {
                riverBand = riverNeed;
                getJSON(o.riversUrl.replace("{band}", riverNeed)).then(function (data) {
                    rivers.clearLayers();
                    rivers.addData(data);
                }, function () {});
            }
            // Roads only where the vector basemap is the map: working tiles draw their own.
            var roadNeed = vector() && zoom >= o.roadsMinZoom ? need : -1;
            if (o.roadsUrl && roadNeed > roadBand) {
                roadBand = roadNeed;
                getJSON(o.roadsUrl.replace("{band}", roadNeed)).then(setRoads, function () {});
            }
            showRoads();
            map.getPane(o.pane).classList.toggle("mapsvc-no-rivers", zoom < o.riversMinZoom);
            rivers.eachLayer(function (l) { l.setStyle({opacity: zoom >= o.riversMinZoom ? 0.9 : 0}); });
        }

        // Offline with tiles selected: fall back to the filled vector basemap.
        function watch(layer) {
            if (layer instanceof L.TileLayer) {
                layer.on("tileerror", function () { if (!tilesFailed) { tilesFailed = true; restyle(); } });
                layer.on("tileload", function () { if (tilesFailed) { tilesFailed = false; restyle(); } });
            }
        }
        map.eachLayer(watch);
        map.on("layeradd", function (e) { watch(e.layer); });
        map.on("baselayerchange", function (e) {
            tilesShown = e.layer instanceof L.TileLayer;
            tilesFailed = false;
            restyle();
        });
        map.on("zoomend", function () { load(); relabel(); });
        map.on("moveend", relabel);
        sea.on("add", function () { sea.bringToBack(); });
        MapSvc.credit(map, group, o.attribution || []);
        group.onCountries = function (fn) {  // the mini-map draws the first countries that arrive
            if (countries.getLayers().length) { fn(countries.toGeoJSON()); } else { listeners.push(fn); }
        };
        if (inline.countries) { setCountries(inline.countries); }
        if (inline.places) { setPlaces(inline.places); }
        else if (o.placesUrl) { getJSON(o.placesUrl).then(setPlaces, function () {}); }
        if (inline.rivers) { rivers.addData(inline.rivers); riverBand = 99; }
        if (inline.roads) { setRoads(inline.roads); roadBand = 99; }
        map.whenReady(function () { load(); restyle(); });
        return group;
    };

    MapSvc.miniMap = function (map, basemap, options, style) {
        var layer = L.geoJson(null, {style: style, interactive: false});
        if (options.minimized === null || options.minimized === undefined) {
            options.minimized = map.getSize().x < 900;
        }
        var control = new L.Control.MiniMap(layer, options);
        map.addControl(control);
        basemap.onCountries(function (data) { layer.addData(data); });
        var toggle = control._container && control._container.querySelector(".minimap-toggle-display");
        if (toggle) {  // an anchor with no text: give it a name and the button role
            toggle.setAttribute("role", "button");
            toggle.setAttribute("aria-label", options.minimized ? options.strings.showText : options.strings.hideText);
        }
        return control;
    };
}());
