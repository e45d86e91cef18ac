"""Runs the HTML detection vectors through the Python guard helper template.

Usage: python3 run_python.py TEMPLATE VECTORS

Imports TEMPLATE (rules/templates/oauth_utils.py) by path, reads VECTORS
(fixtures/vectors/html-detection.json) and prints one JSON line per case:
{"name": ..., "results": {"<entry point>": {"is_error_page": ..., "message": ...}, ...}},
or {"name": ..., "error": "..."} when the helper raised. tests/html_vectors.rs compares every
result with the case's expected value.
"""

import ast
import base64
import importlib.util
import json
import sys
import traceback


class Headers:
    """Case-insensitive header lookup, as httpx.Headers and requests' CaseInsensitiveDict do."""

    def __init__(self, values):
        self._values = {name.lower(): value for name, value in values.items()}

    def get(self, name, default=None):
        return self._values.get(name.lower(), default)


class FakeResponse:
    def __init__(self, status, content_type, body):
        self.status_code = status
        self.headers = Headers({} if content_type is None else {"Content-Type": content_type})
        self.content = body


def requests_response(status, content_type, body):
    """A real requests.Response, when requests is installed."""
    try:
        import requests
        from requests.structures import CaseInsensitiveDict
    except ImportError:
        return None
    response = requests.models.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict({} if content_type is None else {"Content-Type": content_type})
    response._content = body
    return response


def httpx_response(status, content_type, body):
    """A real httpx.Response, when httpx is installed."""
    try:
        import httpx
    except ImportError:
        return None
    headers = {} if content_type is None else {"Content-Type": content_type}
    return httpx.Response(status, headers=headers, content=body)


def load_template(path):
    with open(path, encoding="utf-8") as file:
        source = file.read()
    # The template must stay importable on the oldest Python the codemods target.
    ast.parse(source, filename=path, feature_version=(3, 8))
    spec = importlib.util.spec_from_file_location("oauth_utils_template", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_result(pair):
    is_html, message = pair
    return {"is_error_page": is_html, "message": message}


def main():
    template_path, vectors_path = sys.argv[1], sys.argv[2]
    template = load_template(template_path)
    with open(vectors_path, encoding="utf-8") as file:
        vectors = json.load(file)
    for case in vectors["cases"]:
        name = case["name"]
        try:
            body = base64.b64decode(case["body_base64"]) if "body_base64" in case else case["body"].encode("utf-8")
            status, content_type = case["status"], case["content_type"]
            results = {
                "detect_html": as_result(template.detect_html(status, content_type, body)),
                "check_html_response(fake response)": as_result(
                    template.check_html_response(FakeResponse(status, content_type, body))
                ),
            }
            for label, build in (("requests", requests_response), ("httpx", httpx_response)):
                response = build(status, content_type, body)
                if response is not None:
                    results[f"check_html_response({label}.Response)"] = as_result(
                        template.check_html_response(response)
                    )
            line = {"name": name, "results": results}
        except Exception:
            line = {"name": name, "error": traceback.format_exc()}
        print(json.dumps(line))


if __name__ == "__main__":
    main()
