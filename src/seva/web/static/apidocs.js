/* Starts the API viewer of /docs (Swagger UI) or /redoc (ReDoc), templates/api_docs.html.
   It lives in a file rather than in the page so the page's Content-Security-Policy can forbid
   inline script. Swagger UI gets FastAPI's default options less the online validator (its
   badge is an image from another site). ReDoc writes <style> elements as it draws; the page
   allows those carrying the nonce it hands over in data-style-nonce (a nonce attribute would
   not do: browsers hide its value from scripts). */
(function () {
  "use strict";
  var swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    window.ui = window.SwaggerUIBundle({
      url: swagger.getAttribute("data-openapi-url"),
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis]
    });
  }
  var redoc = document.getElementById("redoc");
  if (redoc && window.Redoc) {
    window.Redoc.init(
      redoc.getAttribute("data-openapi-url"),
      { nonce: redoc.getAttribute("data-style-nonce") },
      redoc
    );
  }
}());
