"""`micro-agent audit stats` and the learned start tier (`learn: true` / `--learn`) on a known audit history."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_history import record_run  # noqa: E402
from autopilot_support import env_for, fixer, forge, make_project  # noqa: E402,F401
from conftest import CALC_BUGGY, CALC_FIXED, cmd_for_tests, fenced, micro_agent  # noqa: E402

from micro_agent import autopilot_db  # noqa: E402
from micro_agent.config import RoleModels, Tier  # noqa: E402
from micro_agent.learning import Record, choose  # noqa: E402

WRONG = CALC_BUGGY.replace("return a - b", "return a * b")
CHAIN = [Tier(name="cheap", mode="simple", maxIterations=2, models=RoleModels(artisan="m/cheap")),
         Tier(name="mid", mode="simple", maxIterations=2, models=RoleModels(artisan="m/mid")),
         Tier(name="strong", mode="simple", maxIterations=2, models=RoleModels(artisan="m/strong"))]
CHEAP, MID, STRONG = ("cheap", "m/cheap"), ("mid", "m/mid"), ("strong", "m/strong")


@pytest.mark.parametrize(("on_target", "in_project", "start", "says"), [
    ({}, {}, 0, "no tier of this chain has solved"),
    ({CHEAP: Record(3, 0), MID: Record(3, 0), STRONG: Record(3, 3)}, {}, 2,
     "starting at tier 3, strong (solved 3 of 3 run(s) in calc.py); skipped cheap (solved 0 of 3 in calc.py), "
     "mid (solved 0 of 3 in calc.py)"),
    ({CHEAP: Record(2, 0), STRONG: Record(2, 2)}, {}, 0, "only 2 run(s) in calc.py, fewer than the 3 needed"),
    ({CHEAP: Record(5, 1), STRONG: Record(5, 4)}, {}, 0, "cheap: solved 1 of 5 run(s) in calc.py"),
    ({}, {CHEAP: Record(4, 0), MID: Record(4, 4)}, 1, "starting at tier 2, mid (solved 4 of 4 run(s) in this project)"),
    # the target's own history wins over the project's
    ({MID: Record(1, 1)}, {CHEAP: Record(9, 9), MID: Record(9, 0)}, 0, "only 0 run(s) in calc.py"),
    # another model under the same tier name is another tier: its history does not count
    ({("cheap", "m/old"): Record(9, 0), STRONG: Record(9, 9)}, {}, 0, "only 0 run(s) in calc.py"),
    # a tier with no later tier that did better is never skipped
    ({CHEAP: Record(5, 0), MID: Record(5, 2)}, {}, 1, "starting at tier 2, mid"),
])
def test_the_start_tier_rule(on_target, in_project, start, says):
    index, why = choose(CHAIN, "calc.py", on_target, in_project)
    assert index == start
    assert says in why


def test_the_last_tier_is_a_start_even_when_it_never_solved():
    index, why = choose(CHAIN[:2], "calc.py", {CHEAP: Record(3, 0), MID: Record(3, 0)}, {CHEAP: Record(3, 1)})
    assert (index, "this project") == (0, "this project") and "solved 1 of 3 run(s) in this project" in why


def known_history(db: Path) -> dict[str, str]:
    """calc.py: cheap failed 3 times, strong solved each time (one proposal merged, one closed); stats.py:
    cheap solved once; one run 40 days ago on old.py."""
    runs = {}
    for n in range(3):
        runs[f"calc{n}"] = record_run(db, "calc.py", [("cheap", "m/cheap", ["failed", "failed"], 0.01),
                                                      ("strong", "m/strong", ["passed"], 0.10)], "strong")
    runs["stats"] = record_run(db, "stats.py", [("cheap", "m/cheap", ["failed", "passed"], 0.01)], "cheap")
    runs["old"] = record_run(db, "old.py", [("cheap", "m/cheap", ["failed"], 0.5)], None, days_ago=40)
    conn = autopilot_db.connect(db)
    pass_id = autopilot_db.start_pass(conn, "once", "refs/heads/main", "pytest")
    for n, fate in enumerate(("merged", "closed", None)):
        job = autopilot_db.get_job(conn, autopilot_db.add_job(conn, pass_id, "calc.py", ["t"], [], "abc"))
        proposal = autopilot_db.add_proposal(conn, job, runs[f"calc{n}"], f"b{n}", "c", "open")
        autopilot_db.update_proposal(conn, proposal, pr_number=n + 1)
        if fate:
            autopilot_db.record_pr_closed(conn, proposal, fate == "merged", "webhook")
    conn.close()
    return runs


def test_audit_stats_per_tier_model_and_target(tmp_path, cli_env):
    db = tmp_path / "audit.db"
    known_history(db)
    done = micro_agent(["audit", "stats", "--json", "--db", str(db)], tmp_path, cli_env)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    tiers = {(t["tier"], t["model"]): t for t in stats["tiers"]}
    cheap, strong = tiers[CHEAP], tiers[STRONG]
    assert (cheap["runs"], cheap["solved"], cheap["iterations"]) == (5, 1, 9)
    assert cheap["solve_rate"] == pytest.approx(0.2) and cheap["mean_iterations"] == pytest.approx(1.8)
    assert cheap["cost_per_solved_usd"] == pytest.approx((8 * 0.01 + 0.5) / 1)
    assert (strong["runs"], strong["solved"], strong["proposed"], strong["merged"]) == (3, 3, 3, 1)
    assert strong["merge_rate"] == pytest.approx(1 / 3) and strong["cost_per_solved_usd"] == pytest.approx(0.10)
    targets = {t["target"]: t for t in stats["targets"]}
    assert targets["calc.py"]["runs"] == 3 and targets["calc.py"]["solve_rate"] == 1.0
    assert targets["calc.py"]["cost_per_solved_usd"] == pytest.approx(0.12)
    assert targets["old.py"]["solved"] == 0 and targets["old.py"]["cost_per_solved_usd"] is None
    assert (stats["runs"], stats["solved"]) == (5, 4)

    recent = json.loads(micro_agent(["audit", "stats", "--json", "--since", "30d", "--db", str(db)], tmp_path,
                                    cli_env).stdout)
    assert "old.py" not in {t["target"] for t in recent["targets"]} and recent["runs"] == 4

    table = micro_agent(["audit", "stats", "--db", str(db)], tmp_path, cli_env)
    assert table.returncode == 0
    assert "Per tier and model" in table.stdout and "m/strong" in table.stdout and "33%" in table.stdout
    assert "5 run(s), 4 solved" in table.stdout

    bad = micro_agent(["audit", "stats", "--since", "lately", "--db", str(db)], tmp_path, cli_env)
    assert bad.returncode == 2 and "30d, 12h, 2w" in bad.stderr


def write_tiers(repo: Path, cheap: str, strong: str) -> None:
    tiers = [{"name": name, "mode": "simple", "maxIterations": 2, "models": {"artisan": model}}
             for name, model in (("cheap", cheap), ("strong", strong))]
    (repo / "tiers.json").write_text(json.dumps({"tiers": tiers, "global": {}}))


def test_learn_starts_at_the_tier_that_solved_this_target(calc_repo, model_server, model, cli_env):
    cheap, strong = model("cheap"), model("strong")
    model_server.script(cheap.removeprefix("openai/"), [fenced(WRONG)])
    model_server.script(strong.removeprefix("openai/"), [fenced(CALC_FIXED)])
    write_tiers(calc_repo, cheap, strong)
    db = calc_repo / ".micro-agent" / "audit.db"
    for _ in range(3):
        record_run(db, "calc.py", [("cheap", cheap, ["failed", "failed"], 0.0), ("strong", strong, ["passed"], 0.0)],
                   "strong")
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--tier-config", "tiers.json", "--learn"],
                       calc_repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "learn: starting at tier 2, strong (solved 3 of 3 run(s) in calc.py); skipped cheap" in done.stdout
    assert "chain: strong ×2" in done.stdout
    assert model_server.calls(cheap.removeprefix("openai/")) == []
    assert (calc_repo / "calc.py").read_text() == CALC_FIXED


def test_learn_in_the_yml_keeps_the_first_tier_on_thin_history(calc_repo, model_server, model, cli_env):
    cheap, strong = model("cheap"), model("strong")
    model_server.script(cheap.removeprefix("openai/"), [fenced(CALC_FIXED)])
    model_server.script(strong.removeprefix("openai/"), [fenced(CALC_FIXED)])
    write_tiers(calc_repo, cheap, strong)
    (calc_repo / "micro-agent.yml").write_text("learn: true\ntierConfigFile: tiers.json\n")
    db = calc_repo / ".micro-agent" / "audit.db"
    for _ in range(2):
        record_run(db, "calc.py", [("cheap", cheap, ["failed"], 0.0), ("strong", strong, ["passed"], 0.0)], "strong")
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests()], calc_repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "learn: starting at the first tier, cheap: only 2 run(s) in calc.py, fewer than the 3" in done.stdout
    assert len(model_server.calls(cheap.removeprefix("openai/"))) == 1


def test_without_learn_the_chain_is_as_configured(calc_repo, model_server, model, cli_env):
    cheap, strong = model("cheap"), model("strong")
    model_server.script(cheap.removeprefix("openai/"), [fenced(CALC_FIXED)])
    write_tiers(calc_repo, cheap, strong)
    db = calc_repo / ".micro-agent" / "audit.db"
    for _ in range(3):
        record_run(db, "calc.py", [("cheap", cheap, ["failed"], 0.0), ("strong", strong, ["passed"], 0.0)], "strong")
    done = micro_agent(["run", "calc.py", "-t", cmd_for_tests(), "--tier-config", "tiers.json"], calc_repo, cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "learn:" not in done.stdout and len(model_server.calls(cheap.removeprefix("openai/"))) == 1


def test_autopilot_once_learn_starts_each_fix_at_the_learned_tier(tmp_path, forge, model_server, model, cli_env):
    cheap, strong = model("cheap"), model("strong")
    model_server.script(cheap.removeprefix("openai/"), ["I cannot fix this."])
    model_server.script(strong.removeprefix("openai/"), [fixer])
    root, _remote = make_project(tmp_path, strong, forge.url)
    config = json.loads((root / "micro-agent.yml").read_text())
    config["tierConfigFile"] = "tiers.json"
    (root / "micro-agent.yml").write_text(json.dumps(config))
    write_tiers(root, cheap, strong)
    db = root / ".micro-agent" / "audit.db"
    for _ in range(3):  # history on src/calc.py only: stats.py learns from the project's
        record_run(db, "src/calc.py", [("cheap", cheap, ["failed"], 0.0), ("strong", strong, ["passed"], 0.0)],
                   "strong")
    done = micro_agent(["autopilot", "once", "--learn", "--json"], root, env_for(cli_env))
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(j["outcome"] for j in report["jobs"]) == ["proposed", "proposed"]
    assert model_server.calls(cheap.removeprefix("openai/")) == []
    conn = autopilot_db.connect(db)
    tiers = {row[0] for row in conn.execute("SELECT DISTINCT tier_name FROM tier_attempts WHERE run_id IN "
                                            "(SELECT run_id FROM autopilot_jobs)")}
    conn.close()
    assert tiers == {"strong"}
    bodies = forge.pulls[0]["body"] + forge.pulls[1]["body"]
    assert "+    return a + b" in bodies  # the strong tier's fix
    assert "learn: starting at tier 2, strong (solved 3 of 3 run(s) in src/calc.py); skipped cheap" in bodies
    assert "learn: starting at tier 2, strong (solved 3 of 3 run(s) in this project)" in bodies  # stats.py
