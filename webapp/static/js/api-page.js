// The API page: Swagger UI over this service's OpenAPI document (the URL comes from the page).
(function () {
    var node = document.getElementById("swagger-ui");
    if (!node || !window.SwaggerUIBundle) { return; }
    window.SwaggerUIBundle({
        url: node.dataset.specUrl,
        domNode: node,
        deepLinking: true,
        docExpansion: "list",
        defaultModelsExpandDepth: 0,
        validatorUrl: null  // no call to the public validator: the page works offline
    });
})();
