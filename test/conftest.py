"""Suite-wide: keeps ``test/`` importable so the shared helpers in ``test/rigs.py`` work from every folder."""
