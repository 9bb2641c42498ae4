"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS).

Glance's image update takes a JSON patch under its own media types, which
schemathesis has no serializer for: they are JSON on the wire.
"""

import schemathesis

schemathesis.serializer.alias(
    [
        "application/openstack-images-v2.1-json-patch",
        "application/openstack-images-v2.0-json-patch",
    ],
    "application/json",
)
