"""The `mayfly capacity` commands end to end on the tiny real sweep (recommend, verify, report)."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from capacity.cli import capacity_app
from capacity.store import load_sweep
from controller.blueprint_file import read_blueprint

runner = CliRunner()


def test_recommend_json_pool_file_and_schedule_check(tiny_sweep: Path, tmp_path: Path) -> None:
    pool_file = tmp_path / "pool.yaml"
    args = [
        "recommend",
        "--sweep",
        str(tiny_sweep),
        "--target",
        "0.8",
        "--json",
        "--write-pool",
        str(pool_file),
        "--verify-seeds",
        "2",
        "--jobs",
        "1",
    ]
    result = runner.invoke(capacity_app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["setting"]["pool_size"] in (0, 6)
    assert data["setting"]["attainment_lower"] >= 0.8
    assert len(data["schedule"]) == 24
    assert yaml.safe_load(pool_file.read_text()) == {"pool": data["pool"]}
    check = data["verification"]
    assert check["seeds"] == 2
    assert len(check["per_seed"]) == 2
    assert 0.0 <= check["attainment_lower"] <= check["attainment"] <= 1.0


def test_scheduled_blueprint_is_valid(tiny_sweep: Path, tmp_path: Path) -> None:
    from capacity.recommend import recommend
    from capacity.store import read_scenario
    from capacity.verify import scheduled_blueprint

    rec = recommend(*load_sweep(tiny_sweep), target=0.8)
    path = scheduled_blueprint(read_scenario(tiny_sweep), rec, tmp_path)
    bp = read_blueprint(path)
    assert [bp.pool.size_at(h) for h in range(24)] == [p.size for p in rec.schedule]


def test_sensitivity_then_report(tiny_sweep: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    shutil.copytree(tiny_sweep, sweep)
    result = runner.invoke(
        capacity_app,
        [
            "sensitivity",
            "--sweep",
            str(sweep),
            "--param",
            "cluster.clone.scale",
            "--param",
            "workload.prs_per_engineer_day",
            "--seeds",
            "1",
            "--jobs",
            "1",
            "--target",
            "0.8",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cluster.clone.scale" in result.stdout
    html_file = tmp_path / "report.html"
    result = runner.invoke(
        capacity_app,
        [
            "report",
            "--sweep",
            str(sweep),
            "--out",
            str(html_file),
            "--target",
            "0.8",
            "--figures",
            str(tmp_path / "figures"),
        ],
    )
    assert result.exit_code == 0, result.output
    pngs = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert "sla-attainment-vs-warm-pool-size.png" in pngs
    assert len(pngs) == 5
    page = html_file.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5  # attainment, cost, CDFs, pool by hour, tornado
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "<script" not in page
    assert "http" not in page
    assert "Recommendation" in page
    assert "pool:" in page


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(capacity_app, ["recommend", "--sweep", str(tmp_path)])
    assert result.exit_code == 2
    assert "run a sweep" in result.output or "mayfly capacity sweep" in result.output
    result = runner.invoke(
        capacity_app, ["sweep", "--out", str(tmp_path / "x"), "--pool-sizes", "10:0"]
    )
    assert result.exit_code == 2
    assert "--pool-sizes" in result.output
    result = runner.invoke(capacity_app, ["sweep", "--out", str(tmp_path / "x"), "--shard", "3/3"])
    assert result.exit_code == 2
    assert "zero-based" in result.output
    result = runner.invoke(
        capacity_app, ["sweep", "--out", str(tmp_path / "y"), "--set", "cluster.nodez=3"]
    )
    assert result.exit_code == 2
    assert "nodez" in result.output
    assert not (tmp_path / "y").exists()
