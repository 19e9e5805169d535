"""The bundled demo: example scripts (and later a Procfile app, modules, messages)."""
