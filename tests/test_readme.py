"""The README's generated blocks match what their commands produce now."""

import sys

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import update_readme  # noqa: E402


def test_readme_blocks_are_current():
    current = update_readme.README.read_text()
    assert update_readme.render(current) == current, "run: python scripts/update_readme.py"


def test_every_results_file_names_a_command_in_the_repository():
    for entries in update_readme.RESULTS.values():
        for _, command in entries:
            script = command.split()[1]
            assert (REPO_ROOT / script).is_file(), command
