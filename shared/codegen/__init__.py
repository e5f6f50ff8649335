"""OpenAPI -> Python SDK generator (a development tool; not shipped in the wheel).

Pipeline: :mod:`.loader` reads the spec and resolves ``$ref``s, :mod:`.build` turns it
into the intermediate description of :mod:`.ir`, and the ``emit_*`` modules write
``<package>/_generated/``. Run it with ``python -m shared.codegen``.
"""
