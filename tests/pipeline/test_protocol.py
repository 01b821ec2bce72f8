from hypothesis import given, settings, strategies as st

from emobench.datasets.base import Sample
from emobench.labels import EMOTIONS, TARGET_EMOTIONS
from emobench.protocol import Setting, build_requests, grid_points, in_shard, request_id, select_samples


def _requests(samples, **kw):
    args = dict(targets=TARGET_EMOTIONS, seeds=[0], settings=[Setting("default", {})], method_key="m", resolution=64)
    args.update(kw)
    return build_requests(samples, {s.id: f"k{s.id}" for s in samples}, **args)


def test_directions_paper_protocol():
    samples = [Sample(f"x{label}", label) for label in range(8)]
    reqs = _requests(samples)
    per_source = {EMOTIONS[s.label]: [EMOTIONS[r.target] for r in reqs if r.sample.id == s.id] for s in samples}
    assert per_source["neutral"] == list(TARGET_EMOTIONS)
    assert per_source["contempt"] == list(TARGET_EMOTIONS)  # contempt edits as neutral
    assert per_source["happy"] == [t for t in TARGET_EMOTIONS if t != "happy"]
    # 36 directions over the 7 editing sources (neutral + 6 emotions): 6 + 6*5
    directions = {(r.edit_source, r.target) for r in reqs}
    assert len(directions) == 36
    assert len({r.request_id for r in reqs}) == len(reqs)


def test_order_setting_image_target_seed_and_grid():
    samples = [Sample("a", 0), Sample("b", 2)]
    settings_ = [Setting(p.id, p.params) for p in grid_points({"g": [1, 2]})]
    reqs = _requests(samples, targets=["happy", "sad"], seeds=[0, 1], settings=settings_)
    got = [(r.setting.id, r.sample.id, EMOTIONS[r.target], r.seed) for r in reqs]
    assert got[:5] == [("g=1", "a", "happy", 0), ("g=1", "a", "happy", 1), ("g=1", "a", "sad", 0),
                       ("g=1", "a", "sad", 1), ("g=1", "b", "happy", 0)]
    assert len(reqs) == 2 * (4 + 2)


def test_grid_product_card_order():
    points = grid_points({"b": [1, 2], "a": [0.5]})
    assert [p.id for p in points] == ["b=1,a=0.5", "b=2,a=0.5"]
    assert points[1].params == {"b": 2, "a": 0.5}


def test_select_per_class_keeps_order():
    samples = [Sample(str(i), i % 3) for i in range(9)]
    chosen = select_samples(samples, ["neutral", "happy"], 2)
    assert [s.id for s in chosen] == ["0", "1", "3", "4"]
    assert len(select_samples(samples, list(EMOTIONS), 0)) == 9


def test_request_id_depends_on_every_part():
    base = ("m", "img", "key", 128, 1, {"g": 1.0}, 0)
    rid = request_id(*base)
    assert rid == request_id(*base) and len(rid) == 20
    for i, changed in enumerate(["m2", "img2", "key2", 64, 2, {"g": 2.0}, 1]):
        args = list(base)
        args[i] = changed
        assert request_id(*args) != rid


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet="0123456789abcdef", min_size=20, max_size=20), max_size=40), st.integers(1, 5))
def test_shards_partition(ids, n):
    for rid in ids:
        assert sum(in_shard(rid, s, n) for s in range(n)) == 1
