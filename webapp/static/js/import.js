/* The import page: drop or choose a file, upload it with a progress bar, show the preview and its
 * problems, let the user fix the metadata, save or discard. Everything the server sends is shown with
 * textContent (never as HTML). Loaded from a file, no inline script: the CSP allows only this site. */
(function () {
    "use strict";
    var root = document.getElementById("importer");
    var csrfMeta = document.querySelector('meta[name="csrf-token"]');
    var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
        form.addEventListener("submit", function (event) {
            if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
        });
    });
    if (!root) { return; }

    var zone = document.getElementById("drop-zone");
    var input = document.getElementById("file-input");
    var progress = document.getElementById("upload-progress");
    var bar = document.getElementById("progress-bar");
    var label = document.getElementById("progress-label");
    var errorBox = document.getElementById("import-error");
    var form = document.getElementById("preview-form");
    var layersBox = document.getElementById("preview-layers");
    var done = document.getElementById("import-done");
    var replace = root.getAttribute("data-replace");
    var maxBytes = parseFloat(root.getAttribute("data-max-mb")) * 1048576;
    var current = null;  // the preview answer

    function show(el, on) { el.classList.toggle("hidden", !on); }

    function el(tag, text, attrs) {
        var node = document.createElement(tag);
        if (text !== undefined && text !== null) { node.textContent = String(text); }
        Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
        return node;
    }

    function fail(message, problems) {
        errorBox.textContent = message;
        if (problems && problems.length) {
            var list = el("ul");
            problems.slice(0, 50).forEach(function (p) {
                list.appendChild(el("li", (p.feature ? p.feature + ": " : "") + p.problem));
            });
            errorBox.appendChild(list);
        }
        show(errorBox, true);
    }

    function answer(xhr) {
        try { return JSON.parse(xhr.responseText); } catch (e) { return {error: xhr.status + " " + xhr.statusText}; }
    }

    function problemTable(layer) {
        var box = el("div");
        if (!layer.problem_count) { box.appendChild(el("p", "No problems: ready to save.", {"class": "notice"})); return box; }
        box.appendChild(el("p", layer.problem_count + " problem(s) block saving" +
            (layer.repairable_count ? " (" + layer.repairable_count + " repairable with make_valid)" : "") +
            ": fix the file, tick a repair/skip option, or discard.", {"class": "problem"}));
        var table = el("table", null, {"class": "plain"});
        var head = el("tr");
        head.appendChild(el("th", "Feature"));
        head.appendChild(el("th", "Problem"));
        table.appendChild(el("thead")).appendChild(head);
        var body = table.appendChild(el("tbody"));
        layer.problems.forEach(function (p) {
            var row = el("tr");
            row.appendChild(el("td", p.feature || "whole layer"));
            row.appendChild(el("td", p.problem + (p.repairable ? " (repairable)" : "")));
            body.appendChild(row);
        });
        box.appendChild(table);
        return box;
    }

    function renderPreview(data) {
        current = data;
        layersBox.textContent = "";
        data.layers.forEach(function (layer, i) {
            var box = el("div", null, {"class": "preview-layer"});
            var title = el("h3");
            if (data.layers.length > 1) {
                var pick = el("input", null, {type: "radio", name: "layer", value: layer.name, id: "layer-" + i});
                if (i === 0) { pick.checked = true; }
                title.appendChild(pick);
                title.appendChild(el("label", " " + layer.name, {"for": "layer-" + i}));
            } else {
                title.textContent = layer.meta.title;
            }
            box.appendChild(title);
            var types = Object.keys(layer.geometry_types).map(function (t) { return layer.geometry_types[t] + " " + t; });
            box.appendChild(el("p", layer.format + " · " + layer.feature_count + " features (" + types.join(", ") +
                ") · " + layer.vertex_count + " vertices · id " + layer.layer_id +
                (layer.bbox ? " · bbox " + layer.bbox.join(", ") : "")));
            if (layer.notes.length) {
                var notes = el("ul");
                layer.notes.forEach(function (n) { notes.appendChild(el("li", n)); });
                box.appendChild(notes);
            }
            box.appendChild(problemTable(layer));
            if (layer.sample.length) {
                var sample = el("details");
                sample.appendChild(el("summary", "First features"));
                sample.appendChild(el("pre", JSON.stringify(layer.sample, null, 1)));
                box.appendChild(sample);
            }
            layersBox.appendChild(box);
        });
        var first = data.layers[0].meta;
        ["title", "description", "attribution", "licence"].forEach(function (name) {
            var field = form.elements[name];
            if (field && !field.value && !replace) { field.value = first[name] || ""; }
        });
        show(form, true);
    }

    function send(method, url, body, onDone, isForm) {
        var xhr = new XMLHttpRequest();
        xhr.open(method, url);
        xhr.setRequestHeader("X-CSRFToken", csrf);
        xhr.setRequestHeader("Accept", "application/json");
        if (isForm) {
            show(progress, true);
            bar.value = 0;
            label.textContent = "Uploading…";
            xhr.upload.addEventListener("progress", function (e) {
                if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
            });
            xhr.upload.addEventListener("load", function () { bar.removeAttribute("value"); label.textContent = "Reading the file…"; });
        } else {
            xhr.setRequestHeader("Content-Type", "application/json");
        }
        xhr.addEventListener("load", function () { show(progress, false); onDone(xhr); });
        xhr.addEventListener("error", function () { show(progress, false); fail("the upload failed (network error)"); });
        xhr.send(body);
    }

    function upload(file) {
        show(errorBox, false);
        show(done, false);
        show(form, false);
        if (file.size > maxBytes) { fail(file.name + " is larger than the limit of " + (maxBytes / 1048576) + " MB"); return; }
        var data = new FormData();
        data.append("file", file, file.name);
        send("POST", root.getAttribute("data-upload-url"), data, function (xhr) {
            var body = answer(xhr);
            if (xhr.status === 200) { renderPreview(body); } else { fail(body.error || "refused", body.problems); }
        }, true);
    }

    function options() {
        var out = {};
        ["layer_id", "title", "description", "attribution", "licence", "source_url", "geometry_quality"].forEach(function (name) {
            var field = form.elements[name];
            if (field && field.value) { out[name] = field.value; }
        });
        ["repair", "skip_invalid", "public"].forEach(function (name) {
            var field = form.elements[name];
            if (field && field.checked) { out[name] = true; }
        });
        var chosen = form.querySelector('input[name="layer"]:checked');
        out.layer = chosen ? chosen.value : current.layers[0].name;
        if (replace) { out.replace = replace; }
        return out;
    }

    zone.addEventListener("click", function () { input.click(); });
    zone.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) {
        e.preventDefault();
        zone.classList.remove("over");
        if (e.dataTransfer.files.length) { upload(e.dataTransfer.files[0]); }
    });
    input.addEventListener("change", function () { if (input.files.length) { upload(input.files[0]); } });

    form.addEventListener("submit", function (e) {
        e.preventDefault();
        show(errorBox, false);
        send("POST", current.links.commit, JSON.stringify(options()), function (xhr) {
            var body = answer(xhr);
            if (xhr.status === 201) {
                show(form, false);
                done.textContent = "Saved " + body.title + " (version " + body.version + "). ";
                var link = el("a", "Open its map", {href: body.links.map});
                done.appendChild(link);
                done.appendChild(document.createTextNode(" · "));
                done.appendChild(el("a", "Manage it", {href: body.links.manage}));
                show(done, true);
            } else {
                fail(body.error || "refused", body.problems);
            }
        });
    });

    document.getElementById("discard-button").addEventListener("click", function () {
        send("DELETE", current.links.self, null, function () {
            show(form, false);
            current = null;
            done.textContent = "Discarded: nothing was saved.";
            show(done, true);
        });
    });
}());
