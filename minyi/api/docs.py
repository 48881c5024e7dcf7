"""The interactive API page (/api/v1/docs) under our content security policy.

django-ninja renders Swagger UI from a CDN unless `ninja` is an installed app; our CSP allows scripts and
styles from this site only. So the page is rendered here, with no inline script (the settings travel in a
JSON data block that swagger-ui-init.js reads), and Swagger UI's files are served from django-ninja's
package directory by `docs_asset`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ninja
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import escape, json_script
from ninja.openapi.docs import Swagger

from minyi.api.errors import api_not_found

ASSET_DIR = Path(ninja.__file__).resolve().parent / "static" / "ninja"
ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-init.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" type="image/png" href="{favicon}">
</head>
<body data-csrf-token="" data-api-csrf="">
{settings}
<div id="swagger-ui"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""


class SelfHostedSwagger(Swagger):
    def render_page(self, request: HttpRequest, api: Any, **kwargs: Any) -> HttpResponse:
        settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}

        def asset(name: str) -> str:
            return reverse("api-v1-docs-asset", kwargs={"name": name})

        html = _PAGE.format(
            title=escape(api.title),
            css=asset("swagger-ui.css"),
            favicon=asset("favicon.png"),
            bundle=asset("swagger-ui-bundle.js"),
            init=asset("swagger-ui-init.js"),
            settings=json_script(json.loads(json.dumps(settings)), "swagger-settings"),
        )
        return HttpResponse(html)


def docs_asset(request: HttpRequest, name: str) -> HttpResponse:
    content_type = ASSETS.get(name)
    path = ASSET_DIR / name
    if content_type is None or not path.is_file():
        return api_not_found(request)
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response
