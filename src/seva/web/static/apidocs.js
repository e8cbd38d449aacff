/* Starts the API viewer of /docs (Swagger UI) or /redoc (ReDoc), templates/api_docs.html.
   It lives in a file rather than in the page so the page's Content-Security-Policy can forbid
   inline script. Swagger UI gets FastAPI's default options less the online validator (its
   badge is an image from another site) and deep links (they put a link inside each
   operation's open/close button, which screen readers and keyboards cannot tell apart).
   ReDoc writes <style> elements as it draws; the page allows those carrying the nonce it
   hands over in data-style-nonce (a nonce attribute would not do: browsers hide its value
   from scripts). */
(function () {
  "use strict";
  /* Swagger UI's box for a request body is a <textarea> without a label; screen readers would
     announce a nameless edit field. It takes the name of the "Request body" heading above it. */
  function labelledRequestBody() {
    return {
      wrapComponents: {
        TextArea: function (Original, system) {
          return function (props) {
            var body = String(props.className || "").indexOf("body-param__text") >= 0;
            var named = body && !props["aria-label"] ?
              Object.assign({}, props, { "aria-label": "Request body" }) : props;
            return system.React.createElement(Original, named);
          };
        }
      }
    };
  }

  var swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    window.ui = window.SwaggerUIBundle({
      url: swagger.getAttribute("data-openapi-url"),
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: false,
      showExtensions: true,
      showCommonExtensions: true,
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis],
      plugins: [labelledRequestBody]
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
