"""MkDocs hooks for the documentation site (`mkdocs.yml` names them)."""
