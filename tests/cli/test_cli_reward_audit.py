"""``rlad reward-audit TASK FILE``: reward histogram, mean, unparsed cases, JSON report, one-line errors."""

from __future__ import annotations

import json

import pytest


def _write(path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


MATH_ROWS = [
    {"completion": "so \\boxed{18}", "answer": "18"},
    {"completion": "The answer is not 18.", "answer": "18"},
    {"completion": [{"role": "assistant", "content": "#### 4.5e33"}], "answer": "4.5 \\times 10^{33}"},
    {"completion": "\\boxed{19}", "answer": "18"},
    {"completion": "no answer at all", "answer": "7"},
]


def test_math_audit_prints_histogram_mean_and_unparsed_and_writes_the_report(rlad_cli, tmp_path):
    file = _write(tmp_path / "c.jsonl", MATH_ROWS)
    code, out, err = rlad_cli("reward-audit", "math", file, "--out", tmp_path / "r" / "report.json")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"rlad reward-audit: task 'math', 5 completions from {file}"
    assert [line.split() for line in lines[3:5]] == [["0", "3", "60.0%"], ["1", "2", "40.0%"]]
    assert "mean reward 0.4; fully correct 2 (40.0%)" in out
    assert "could not parse: 2 (40.0%; answer_found = 0)" in out
    assert "  line 2: no final answer found" in out and "  line 5: no final answer found" in out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["count"] == 5 and report["mean_reward"] == pytest.approx(0.4)
    assert report["histogram"] == [{"value": 0.0, "count": 3}, {"value": 1.0, "count": 2}]
    assert report["unparsed"]["count"] == 2 and [e["line"] for e in report["unparsed"]["examples"]] == [2, 5]
    assert [row["reward"] for row in report["lines"]] == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert report["lines"][3]["reason"] == "answer '19' does not match '18'"


def test_kk_audit_by_prompt_index_with_the_shaped_reward(rlad_cli, tmp_path):
    from rlad.tasks import get_task

    row = get_task("kk").load(split="test")[3]
    hedge = (
        "<think>t</think><answer>"
        + " ".join(f"{n} is a knight or a knave." for n in row["names"])
        + "</answer>"
    )
    rows = [
        {"prompt_index": 3, "completion": row["reference"]},
        {"prompt_index": 3, "completion": hedge},
        {"prompt_index": 3, "completion": "no tags"},
        {
            "names": ["Ann"],
            "solution": [True],
            "completion": "<think>t</think><answer>Ann is a knave</answer>",
        },
    ]
    file = _write(tmp_path / "kk.jsonl", rows)
    code, out, err = rlad_cli(
        "reward-audit", "kk", file, "--task-option", "reward=logic_rl", "--examples", "1"
    )
    assert code == 0, err
    table = [line.split() for line in out.splitlines()[3:7]]
    assert table == [["-3", "1", "25.0%"], ["-1", "1", "25.0%"], ["-0.5", "1", "25.0%"], ["3", "1", "25.0%"]]
    assert "could not parse: 2 (50.0%; parsed = 0)" in out
    assert "  line 2: hedged answer ('or')" in out and "line 3:" not in out  # --examples 1


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        (None, ("math",), "completions file '{file}' does not exist"),
        ([MATH_ROWS[0], "{not json"], ("math",), "{file}:2: not valid JSON"),
        (["[1, 2]"], ("math",), "{file}:1: expected a JSON object, got list"),
        ([{"answer": "1"}], ("math",), "{file}:1: missing field 'completion'; fields: ['answer']"),
        ([{"completion": 5}], ("math",), "{file}:1: field 'completion' must be a string or a list of chat"),
        ([], ("math",), "completions file '{file}' has no lines"),
        ([MATH_ROWS[0]], ("mathz",), "unknown task 'mathz'; valid names: arithmetic, code,"),
        (
            [MATH_ROWS[0], {"completion": "x"}],
            ("math",),
            "line 2: missing field 'answer' (task 'math' reads it)",
        ),
        (
            [{"completion": "x", "prompt_index": 100000}],
            ("kk",),
            "{file}:1: prompt_index 100000 is not a row",
        ),
        ([MATH_ROWS[0]], ("math", "--task-option", "speed=3"), "task 'math' has no option(s) ['speed']"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(rlad_cli, tmp_path, rows, args, message):
    path = tmp_path / "c.jsonl"
    if rows is not None:
        _write(path, rows)
    task, *options = args
    code, out, err = rlad_cli("reward-audit", task, path, *options)
    assert code == 2 and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("rlad reward-audit: error: ")
    assert message.format(file=path) in err, err
