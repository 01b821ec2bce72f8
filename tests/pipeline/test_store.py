import json

import pytest

from emobench.store import RunStore, read_records, read_run, write_json_atomic


def test_truncated_last_line_is_dropped_and_repaired(tmp_path):
    store = RunStore(tmp_path)
    store.append([{"request_id": "a"}, {"request_id": "b"}])
    with open(store.records_path, "a") as fh:
        fh.write('{"request_id": "c", "sta')  # a writer killed mid-line
    assert [r["request_id"] for r in read_records(store.records_path)] == ["a", "b"]
    store.open()
    store.append([{"request_id": "c"}])
    assert [r["request_id"] for r in read_records(store.records_path)] == ["a", "b", "c"]


def test_complete_last_line_without_newline_is_kept(tmp_path):
    store = RunStore(tmp_path)
    store.records_path.write_text('{"request_id": "a"}\n{"request_id": "b"}')
    assert len(read_records(store.records_path)) == 2
    store.open()
    store.append([{"request_id": "c"}])
    assert [r["request_id"] for r in read_records(store.records_path)] == ["a", "b", "c"]


def test_damaged_middle_line_is_an_error(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"a": 1}\n{oops\n{"a": 2}\n')
    with pytest.raises(ValueError, match=r"records.jsonl:2: damaged record line"):
        read_records(path)


def test_shards_write_separate_files_and_merge(tmp_path):
    RunStore(tmp_path, 0, 2).append([{"request_id": "a"}])
    RunStore(tmp_path, 1, 2).append([{"request_id": "b"}])
    assert sorted(p.name for p in tmp_path.glob("records*")) == ["records.shard-0-of-2.jsonl",
                                                                   "records.shard-1-of-2.jsonl"]
    assert {r["request_id"] for r in read_run(tmp_path)} == {"a", "b"}
    assert RunStore(tmp_path, 0, 2).done_ids() == {"a", "b"}


def test_atomic_json_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "m.json", {"x": 1})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "m.json", {"x": float("nan")})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
