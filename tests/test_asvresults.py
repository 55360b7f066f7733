"""The one reader of asv result files (mdperf.asvresults)."""

import json

import pytest

from histories import write_asv_results
from mdperf import asvresults


def test_version_2_rows_carry_result_params_version_and_times(tmp_path):
    write_asv_results(tmp_path, "m", ["a" * 40], {"b.track_x": dict(params=[["1", "2"]], param_names=["n"], unit="ms",
                                                                  values=[[1.0, None]])})
    (path,) = asvresults.result_paths(tmp_path / "m")
    rf = asvresults.load(path)
    row = rf.rows["b.track_x"]
    assert rf.commit == "a" * 40 and row.result == [1.0, None] and row.params == [["1", "2"]]
    assert row.version == "1" and row.duration == 1.0 and rf.benchmark_s == 1.0
    assert asvresults.result_paths(tmp_path / "m", "b" * 40) == []


def test_version_1_files_are_converted_by_asv(tmp_path):
    f = tmp_path / "deadbeef-py.json"
    f.write_text(json.dumps({"commit_hash": "deadbeef", "version": 1, "date": 5, "results": {
        "b.time_a": 0.5, "b.time_p": {"result": [1.0, 2.0], "params": [["x", "y"]]}}}))
    rf = asvresults.load(f)
    assert rf.env == "py" and rf.date == 5.0
    assert rf.rows["b.time_a"].result == [0.5] and rf.rows["b.time_p"].params == [["x", "y"]]


@pytest.mark.parametrize("text, reason", [
    ("[1, 2]", "not a results object but list"),
    ('{"commit_hash": ["x"], "version": 2, "results": {}, "result_columns": ["result"]}',
     "not a hexadecimal commit hash"),
    # A crafted hash would reach the changes page's HTML attributes and the Markdown report.
    ('{"commit_hash": "a\\" onmouseover=\\"x", "version": 2, "results": {}, "result_columns": ["result"]}',
     "not a hexadecimal commit hash"),
    ("null", "not a results object but NoneType"),
    ('"text"', "not a results object but str"),
    ('{"commit_hash": "abcd", "version": 99}', "unknown result format version 99"),
    ('{"commit_hash": "abcd", "version": 2, "results": {}}', "without result_columns"),
    ('{"commit_hash": "x", "results": {', "JSONDecodeError"),
])
def test_unreadable_files_raise_one_error_with_the_reason(tmp_path, text, reason):
    f = tmp_path / "x.json"
    f.write_text(text)
    with pytest.raises(asvresults.ResultsError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        asvresults.load(f)
