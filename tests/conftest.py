"""Suite-wide settings. Hypothesis draws the same examples on every run (derandomize), so a
red CI run is always reproducible; open-ended exploration is the fuzz commands' job
(`python -m tools.fuzz_architectures`, `python -m tools.fuzz_scenes`, `python -m tools.fuzz_cli`)."""
from hypothesis import settings

settings.register_profile("meshscope", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("meshscope")
