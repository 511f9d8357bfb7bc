"""Shared test configuration."""

import os

from hypothesis import settings

# In CI (CI=true) hypothesis draws the same examples every run, so a red build is
# reproducible; on a developer's machine it keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")
