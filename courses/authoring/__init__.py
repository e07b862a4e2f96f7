"""The catalogue as authors write it: the files under ``courses/catalog/``, their schemas, the
Markdown rendering and the versioned import into the tables."""
