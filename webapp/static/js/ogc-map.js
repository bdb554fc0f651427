// OGC API HTML pages: draw the page's features (fetched as GeoJSON from data-geojson-url) on a small Leaflet map.
(function () {
    var node = document.getElementById("ogc-map");
    if (!node || !window.L) { return; }
    var map = L.map(node, {attributionControl: true}).setView([30, 68], 4);
    fetch(node.dataset.geojsonUrl, {headers: {Accept: "application/geo+json"}})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
            var layer = L.geoJSON(data, {
                style: {color: "#c0392b", weight: 2, fillOpacity: 0.08},
                pointToLayer: function (f, latlng) { return L.circleMarker(latlng, {radius: 5, color: "#c0392b"}); },
                onEachFeature: function (f, l) {
                    var tip = document.createElement("span");
                    tip.textContent = (f.properties && f.properties.name) || f.id;
                    l.bindTooltip(tip);
                }
            }).addTo(map);
            var bounds = layer.getBounds();
            if (bounds.isValid()) { map.fitBounds(bounds, {padding: [10, 10], maxZoom: 10, animate: false}); }
            node.dataset.drawn = String(data.features ? data.features.length : 1);
        }, function () { node.dataset.drawn = "error"; });
})();
