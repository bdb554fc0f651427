// A catalogue layer drawn from its MVT tiles with Leaflet.VectorGrid (canvas), in the layer's style table.
// window.mapsvcTiledLayer({layerId, url, styles, popupUrl}) returns the Leaflet layer (options.layerId set,
// so the page hooks can follow it in the layer control).
(function () {
    // VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8 removed: stop the click reaching the map instead.
    if (window.L && !L.DomEvent.fakeStop) {
        L.DomEvent.fakeStop = function (e) { L.DomEvent.stopPropagation(e); };
    }

    function styleFor(styles) {
        return function (props) {
            var s = L.extend({}, styles[props._s] || {});
            if (props.geometry_quality === "point") {
                return L.extend(s, {radius: 5, fill: true, fillColor: s.color, fillOpacity: 0.85, weight: 1,
                                    color: "#ffffff"});
            }
            if (props.kind === "country") { return L.extend(s, {fill: true}); }
            s.fill = false;
            if (props.geometry_quality === "schematic") {  // the halo under schematic lines, as on embedded layers
                return [L.extend({}, s, {weight: (s.weight || 2) + 9, opacity: 0.18}), s];
            }
            return s;
        };
    }

    window.mapsvcTiledLayer = function (options) {
        var styles = {};
        styles[options.layerId] = styleFor(options.styles || []);
        var tooltip = null;
        var layer = L.vectorGrid.protobuf(options.url, {
            vectorTileLayerStyles: styles,
            rendererFactory: L.canvas.tile,
            pane: "overlayPane",  // above the vector basemap's pane (250), like the embedded layers' paths
            interactive: true,
            maxNativeZoom: 22,
            layerId: options.layerId,
            getFeatureId: function (f) { return f.properties.id; }
        });
        layer.on("mouseover", function (e) {
            var map = layer._map;
            if (!map || !e.layer || !e.layer.properties) { return; }
            var text = document.createElement("span");
            text.textContent = e.layer.properties.name;
            tooltip = L.tooltip({sticky: true}).setLatLng(e.latlng).setContent(text).addTo(map);
        });
        layer.on("mouseout", function () { if (tooltip) { tooltip.remove(); tooltip = null; } });
        layer.on("click", function (e) {
            var map = layer._map;
            if (!map || !e.layer || !e.layer.properties) { return; }
            var popup = L.popup({maxWidth: 400, maxHeight: 380}).setLatLng(e.latlng).setContent("Loading\u2026")
                .openOn(map);
            if (!options.popupUrl) { popup.setContent(document.createTextNode(e.layer.properties.name)); return; }
            fetch(options.popupUrl.replace("{fid}", encodeURIComponent(e.layer.properties.id)))
                .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
                .then(function (html) { popup.setContent(html); },
                      function () { popup.setContent("Details unavailable."); });
        });
        // tiles drawn so far, for tests and for the page: {tiles, features}
        layer.drawn = {tiles: 0, features: 0};
        layer.on("tileload", function (e) {
            layer.drawn.tiles += 1;
            var key = layer._tileCoordsToKey(e.coords);
            var renderer = layer._vectorTiles && layer._vectorTiles[key];
            if (renderer && renderer._features) { layer.drawn.features += Object.keys(renderer._features).length; }
        });
        return layer;
    };
})();
