"""notebooks/horseshoe_local_mass.ipynb executes in the running generation and shows what it claims.

Run with nbclient on a kernel of the running interpreter (a kernelspec written
to a temporary JUPYTER_PATH, so no other registered kernel is picked up).
"""

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "horseshoe_local_mass.ipynb"
KERNEL = "pymc-localmass-model-test"


@pytest.fixture
def kernel_name(tmp_path, monkeypatch):
    spec_dir = tmp_path / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python {sys.version_info.major}.{sys.version_info.minor} (tests)",
            "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path) + os.pathsep + os.environ.get("JUPYTER_PATH", ""))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::DeprecationWarning")
    return KERNEL


def _text(outputs):
    parts = []
    for o in outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts.append(o.data.get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.slow
def test_horseshoe_notebook(kernel_name):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=kernel_name, timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = _text(outputs)
    assert "tier: model | pairs: beta~lam" in text
    # the draws resolve only large radii at a null coefficient
    smallest = float(re.search(r"beta\[x3\] at 0: \d+ of 15 radii resolved \(smallest resolved radius: (\S+)\)",
                               text).group(1))
    assert smallest > 1e-4
    # the model tier reaches 1e-8 and identifies the log index of both null coefficients
    found = re.findall(r"beta\[(x\d)\] at 0: a = (\S+) \[(\S+), (\S+)\], b = (\S+) \[(\S+), (\S+)\]", text)
    assert [f[0] for f in found] == ["x3", "x5"]
    for _, a, a_lo, a_hi, b, b_lo, b_hi in found:
        a, a_lo, a_hi, b, b_lo, b_hi = (float(v.rstrip(",]")) for v in (a, a_lo, a_hi, b, b_lo, b_hi))
        assert a_lo <= 1.0 <= a_hi
        assert 0.6 <= b <= 1.4 and b_lo > 0.3 and b_lo <= 1.0 <= b_hi
    assert "1e-08" in text  # the table starts at r = 1e-8
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) == 1
