"""Stage 2 of the data layer: normalise text, remove site boilerplate, de-duplicate and chunk pages (litft process)."""
