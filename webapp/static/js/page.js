// Behaviour of the map and analysis pages (loaded from a file: the CSP allows no inline script of ours).
// - Rows of the route-statistics table follow the layer control (the map's "mapsvc:layer" events).
// - The "Copy" button copies the embed snippet.
(function () {
    "use strict";
    document.addEventListener("mapsvc:layer", function (e) {
        document.querySelectorAll("tbody[data-layer]").forEach(function (el) {
            if (el.dataset.layer === e.detail.layerId) { el.hidden = !e.detail.visible; }
        });
    });
    var button = document.getElementById("copy-snippet");
    if (button) {
        button.addEventListener("click", function () {
            var box = document.getElementById("embed-snippet");
            box.select();
            if (navigator.clipboard) { navigator.clipboard.writeText(box.value); } else { document.execCommand("copy"); }
            button.textContent = "Copied";
        });
    }
})();
