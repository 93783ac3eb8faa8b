"""README's install and test commands: the ones .ci/run runs, and honest exit codes."""

import re
import subprocess

from conftest import REPO

PYTEST = "python -m pytest -q -n auto tests"


def readme_command(marker):
    """The one-line command of README's bash blocks that contains `marker`."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines() if marker in line]
    assert len(lines) == 1, lines
    return lines[0]


def run_with_fake_pytest(command, failing_backend, workdir):
    """Runs README's test command in `workdir` with pytest replaced by a stand-in that logs
    the backend and fails on `failing_backend`; returns (exit code, backends run)."""
    fake = (f'bash -c \'echo "$KERAS_BACKEND" >> log; '
            f'[ "$KERAS_BACKEND" != "{failing_backend}" ]\'')
    assert PYTEST in command
    workdir.mkdir()
    result = subprocess.run(["bash", "-c", command.replace(PYTEST, fake)], cwd=workdir,
                            capture_output=True, text=True, timeout=60)
    return result.returncode, (workdir / "log").read_text().split()


def test_the_test_command_fails_when_any_backend_fails(tmp_path):
    command = readme_command("KERAS_BACKEND=$backend")
    for failing, ran in (("tensorflow", ["tensorflow"]), ("jax", ["tensorflow", "jax"]),
                         ("torch", ["tensorflow", "jax", "torch"])):
        code, backends = run_with_fake_pytest(command, failing, tmp_path / failing)
        assert code != 0, failing
        assert backends == ran  # It stops at the first failing backend.
    assert run_with_fake_pytest(command, "none", tmp_path / "none") == (
        0, ["tensorflow", "jax", "torch"])


def test_ci_runs_the_readme_commands():
    ci = (REPO / ".ci" / "run").read_text()
    install = readme_command("pip install")
    assert install in ci
    assert "constraints.txt" in install
    # The same loop over the same backends, the same pytest invocation, stopping on failure.
    assert "set -euo pipefail" in ci
    loop = re.search(r"for backend in ([\w ]+); do", readme_command(PYTEST)).group(1)
    assert f"for backend in {loop}; do" in ci
    assert f"KERAS_BACKEND=$backend {PYTEST}" in ci
