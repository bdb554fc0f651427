/* Measure distances on the WGS84 ellipsoid (Vincenty's inverse formula), without eval (unlike leaflet-measure).
 * A real button toggles it (mouse, touch or keyboard). While measuring: click the map, or press Enter with
 * the map focused to add the point under the centre cross; Backspace removes the last point; Escape ends.
 */
(function () {
    "use strict";
    var MapSvc = window.MapSvc = window.MapSvc || {};
    var A = 6378137.0, F = 1 / 298.257223563, B = A * (1 - F);

    /* Geodesic distance in metres between two [lat, lon] points (Vincenty 1975; spherical fallback near
     * antipodes, where the iteration does not converge). */
    MapSvc.geodesicMetres = function (p, q) {
        var rad = Math.PI / 180, L0 = (q[1] - p[1]) * rad;
        var U1 = Math.atan((1 - F) * Math.tan(p[0] * rad)), U2 = Math.atan((1 - F) * Math.tan(q[0] * rad));
        var sinU1 = Math.sin(U1), cosU1 = Math.cos(U1), sinU2 = Math.sin(U2), cosU2 = Math.cos(U2);
        var lambda = L0, prev, sinSigma, cosSigma, sigma, cos2Alpha, cos2SigmaM, iter = 0;
        do {
            var sinL = Math.sin(lambda), cosL = Math.cos(lambda);
            sinSigma = Math.sqrt(Math.pow(cosU2 * sinL, 2) + Math.pow(cosU1 * sinU2 - sinU1 * cosU2 * cosL, 2));
            if (sinSigma === 0) { return 0; }
            cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosL;
            sigma = Math.atan2(sinSigma, cosSigma);
            var sinAlpha = cosU1 * cosU2 * sinL / sinSigma;
            cos2Alpha = 1 - sinAlpha * sinAlpha;
            cos2SigmaM = cos2Alpha ? cosSigma - 2 * sinU1 * sinU2 / cos2Alpha : 0;
            var C = F / 16 * cos2Alpha * (4 + F * (4 - 3 * cos2Alpha));
            prev = lambda;
            lambda = L0 + (1 - C) * F * sinAlpha * (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma *
                     (-1 + 2 * cos2SigmaM * cos2SigmaM)));
        } while (Math.abs(lambda - prev) > 1e-12 && ++iter < 200);
        if (iter >= 200) { return L.CRS.Earth.distance(L.latLng(p), L.latLng(q)); }
        var u2 = cos2Alpha * (A * A - B * B) / (B * B);
        var Ak = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)));
        var Bk = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)));
        var dSigma = Bk * sinSigma * (cos2SigmaM + Bk / 4 * (cosSigma * (-1 + 2 * cos2SigmaM * cos2SigmaM) -
                     Bk / 6 * cos2SigmaM * (-3 + 4 * sinSigma * sinSigma) * (-3 + 4 * cos2SigmaM * cos2SigmaM)));
        return B * Ak * (sigma - dSigma);
    };

    function km(metres) {
        return (metres / 1000).toLocaleString("en", {maximumFractionDigits: metres < 10000 ? 2 : 1}) + " km";
    }

    MapSvc.measureControl = function (map, options) {
        var points = [], line = L.polyline([], {color: "#1f2d3a", weight: 3, dashArray: "6 4", interactive: false});
        var dots = L.layerGroup(), active = false, button, readout, cross;
        var control = L.control({position: options.position || "topleft"});

        function total() {
            var m = 0;
            for (var i = 1; i < points.length; i++) {
                m += MapSvc.geodesicMetres([points[i - 1].lat, points[i - 1].lng], [points[i].lat, points[i].lng]);
            }
            return m;
        }
        function update() {
            line.setLatLngs(points);
            dots.clearLayers();
            points.forEach(function (p) { dots.addLayer(L.circleMarker(p, {radius: 3, color: "#1f2d3a", interactive: false})); });
            readout.textContent = !active ? "" : points.length < 2
                ? "Click the map (or press Enter) to add points; Escape ends."
                : km(total()) + " along " + (points.length - 1) + " leg" + (points.length > 2 ? "s" : "") +
                  " (geodesic, WGS84)";
        }
        function add(latlng) { points.push(latlng); update(); }
        function onClick(e) { add(e.latlng); }
        function onKey(e) {
            if (!active) { return; }
            if (e.key === "Escape") { stop(); button.focus(); }
            else if (e.key === "Enter" && e.target === map.getContainer()) { e.preventDefault(); add(map.getCenter()); }
            else if (e.key === "Backspace" && points.length && e.target === map.getContainer()) {
                e.preventDefault(); points.pop(); update();
            }
        }
        function start() {
            active = true;
            points = [];
            line.addTo(map);
            dots.addTo(map);
            map.on("click", onClick);
            map.getContainer().classList.add("mapsvc-measuring");
            cross.hidden = false;
            button.setAttribute("aria-pressed", "true");
            update();
        }
        function stop() {
            active = false;
            map.off("click", onClick);
            map.getContainer().classList.remove("mapsvc-measuring");
            cross.hidden = true;
            button.setAttribute("aria-pressed", "false");
            if (points.length < 2) { map.removeLayer(line); map.removeLayer(dots); }
            readout.textContent = points.length >= 2 ? km(total()) + " (geodesic, WGS84)" : "";
        }
        control.onAdd = function () {
            var div = L.DomUtil.create("div", "leaflet-bar mapsvc-measure");
            button = L.DomUtil.create("button", "mapsvc-measure-button", div);
            button.type = "button";
            button.title = "Measure a distance (geodesic)";
            button.setAttribute("aria-label", "Measure a distance");
            button.setAttribute("aria-pressed", "false");
            button.textContent = "\u2194";
            readout = L.DomUtil.create("div", "mapsvc-measure-readout", div);
            readout.setAttribute("role", "status");
            readout.setAttribute("aria-live", "polite");
            cross = L.DomUtil.create("div", "mapsvc-measure-cross", map.getContainer());
            cross.hidden = true;
            cross.setAttribute("aria-hidden", "true");
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.on(button, "click", function () { if (active) { stop(); } else { start(); } });
            document.addEventListener("keydown", onKey);
            return div;
        };
        control.addTo(map);
        control.measuring = function () { return active; };
        control.totalMetres = total;
        return control;
    };
}());
