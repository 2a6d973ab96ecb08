"""The API's documentation pages, served whole by the server itself so that they work offline: /docs (Swagger UI)
and /redoc (ReDoc), both reading /openapi.json. FastAPI's own pages load their scripts from a CDN; here the scripts
and styles come from the fastapi-offline package (in the ``serve`` extra), which bundles them, and the pages have no
inline script (Swagger UI's set-up is a file of its own)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

PREFIX = "/docs-assets"  # where the bundled scripts, styles and icon are served
SETUP = "/docs-setup.js"


def assets() -> Path:
    """The folder of the scripts and styles fastapi-offline bundles (Swagger UI, ReDoc, the icon)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed: pip install 'nst-crossframe[serve]'")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def swagger_page(title: str) -> str:
    """Swagger UI's page: the bundled style and script, then the set-up script; nothing from another site."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{PREFIX}/swagger-ui.css">
<link rel="icon" href="{PREFIX}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{PREFIX}/swagger-ui-bundle.js"></script>
<script src="{SETUP}"></script>
</body>
</html>
"""


def swagger_setup(openapi_url: str) -> str:
    """The script that starts Swagger UI on the API's description (no validator: it would call another site)."""
    options = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "validatorUrl": None,
    }
    return f"""window.ui = SwaggerUIBundle(Object.assign({json.dumps(options)}, {{
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}}));
"""


def install(app: FastAPI) -> None:
    """Serve /docs, /redoc and their assets from the package (create the app with docs_url=None, redoc_url=None)."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(PREFIX, StaticFiles(directory=assets()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return HTMLResponse(swagger_page(f"{app.title}: API"))

    @app.get(SETUP, include_in_schema=False)
    def setup() -> Response:
        return Response(swagger_setup(openapi_url), media_type="text/javascript")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API",
            redoc_js_url=f"{PREFIX}/redoc.standalone.js",
            redoc_favicon_url=f"{PREFIX}/favicon.png",
            with_google_fonts=False,
        )
