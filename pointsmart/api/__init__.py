"""The JSON API under ``/api/v1``: bearer tokens, marshmallow schemas, an OpenAPI 3 document."""
