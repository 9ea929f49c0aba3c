"""render_model is pure numpy: what is drawn, tested without a display."""
import subprocess
import sys

import numpy as np

from app.model import render_model as rm


def _line_geometry():
    # nodes 0 -(link 0)-> 1 -(link 1)-> 2 along x; link 2 goes back 1 -> 0
    x = np.array([0.0, 1.0, 2.0])
    y = np.zeros(3)
    src, dst = np.array([0, 1, 1]), np.array([1, 2, 0])
    return rm.link_geometry(x, y, src, dst, np.array([0, 1, 0]))


def test_render_model_imports_no_qt():
    code = "import sys, app.model.render_model; print(any(m.startswith(('PySide6', 'PyQt', 'pyqtgraph')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_directed_links_get_opposite_lanes():
    g = _line_geometry()
    assert g.y0[0] < 0 and g.y0[2] > 0  # +x lane below, -x lane above (right-hand side)
    assert g.offchip.tolist() == [False, True, False]


def test_levels_bucket_utilization():
    assert rm.link_levels(np.array([0.0, 0.1, 0.5, 0.95])).tolist() == [0, 1, 2, 3]


def _chunks(**kw):
    from sim_core.engine.view import ChunkState
    n = len(kw["link"])
    base = dict(on_link=np.ones(n, bool), next_link=np.full(n, -1), start_s=np.zeros(n), ready_s=np.zeros(n),
                queue_pos=np.arange(n), msg=np.zeros(n, dtype=np.int64), tag=np.zeros(n, dtype=np.int64))
    base.update(kw)
    return ChunkState(**{k: np.asarray(v) for k, v in base.items()})


def test_moving_chunk_interpolates_and_waiting_chunks_queue_inside_the_link():
    g = _line_geometry()
    # chunk 0 on link 0, halfway; chunks 1-2 wait in link 1's injection queue
    ch = _chunks(link=[0, 1, 1], on_link=[True, False, False], next_link=[1, 1, 1], start_s=[0.0, 0.0, 0.0],
                 ready_s=[2.0, 0.0, 0.0], queue_pos=[0, 0, 1], msg=[0, 1, 1], tag=[3, 5, 5])
    p = rm.particle_positions(g, ch, 1.0)
    assert p.moving.tolist() == [True, False, False]
    assert np.isclose(p.x[0], 0.5)
    # queued chunks stack from the start of link 1 (x = 1) along it, the second further in
    assert 1.0 < p.x[1] < p.x[2] < 2.0
    assert p.color.tolist() == [3, 5, 5]
    xs, ys = rm.particle_segments(p, 0.2, np.array([0]))
    assert np.isclose(xs[1] - xs[0], 0.2)


def test_queue_tails_never_leave_their_link():
    g = _line_geometry()
    n = 500  # a saturated queue: far more chunks than the tail can show
    arrived = _chunks(link=np.zeros(n, dtype=np.int64), next_link=np.ones(n, dtype=np.int64), start_s=np.zeros(n),
                      ready_s=np.zeros(n), queue_pos=np.arange(n))
    p = rm.particle_positions(g, arrived, 1.0)
    assert not p.moving.any()
    # link 0 runs from x = 0 to 1: the tail stacks back from its far end and stays on it
    assert (p.x >= 0.0).all() and (p.x <= 1.0).all()
    assert p.x.min() >= 1.0 - rm.QUEUE_MAX_SHARE - 1e-12
    waiting = _chunks(link=np.ones(n, dtype=np.int64), on_link=np.zeros(n, bool), queue_pos=np.arange(n))
    q = rm.particle_positions(g, waiting, 0.0)
    assert (q.x >= 1.0).all() and (q.x <= 2.0).all()


def test_no_chunks_draws_nothing():
    p = rm.particle_positions(_line_geometry(), _chunks(link=np.zeros(0, dtype=np.int64)), 0.0)
    assert p.x.size == 0 and p.moving.size == 0


def test_speeds_read_as_plain_numbers():
    assert rm.format_speed(1e-3) == "1/1000x"
    assert rm.format_speed(0.5) == "0.5x"
    assert rm.format_speed(64) == "64x"
    assert rm.format_speed(1.0) == "1x"
    assert rm.format_speed(1e4) == "10,000x"
    for v in (1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 1e4, 1 / 1.64, 1.64, 0.0371):
        assert "e" not in rm.format_speed(v) and "1/1." not in rm.format_speed(v)


def test_units_and_plurals_chosen_by_the_app():
    assert rm.time_unit(2e-3) == (1e-3, "ms")
    assert rm.time_unit(5e-6) == (1e-6, "us")
    assert rm.bytes_unit(8e6) == (1e6, "MB")
    assert rm.bytes_unit(10) == (1.0, "B")
    assert rm.count_unit(3e8) == (1e6, "million")
    assert rm.plural(1, "chip") == "1 chip" and rm.plural(2, "chip") == "2 chips"
    assert rm.plural(4096, "chip") == "4,096 chips"


def test_chip_shades_group_into_a_few_levels():
    lvl = rm.shade_levels(np.array([0.0, 0.5, 1.0, 2.0]))
    assert lvl.tolist() == [0, 4, 8, 8]
    assert len({rm.shade_rgb(v) for v in range(rm.SHADE_LEVELS)}) == rm.SHADE_LEVELS


def test_chip_boxes_and_tile_load():
    x = np.array([0.0, 1.0, 10.0, 11.0])
    y = np.zeros(4)
    boxes = rm.chip_boxes(x, y, np.array([0, 0, 1, 1]), 4, 2)
    assert boxes[1].tolist() == [9.5, -0.5, 11.5, 0.5]
    util = np.array([1.0, 0.0])
    tile_link = np.array([[0, -1, -1, -1], [1, -1, -1, -1]])
    assert rm.tile_load(util, tile_link, 0, 1, 2).tolist() == [[1.0, 0.0]]


def test_nearest_segment_and_formats():
    g = _line_geometry()
    link, d = rm.nearest_segment(g, 1.5, -0.1, np.arange(3))
    assert link == 1 and d < 0.2
    assert rm.format_time(0) == "0 s"
    assert rm.format_time(12.4e-6) == "12.4 us"
    assert rm.format_time(850e-9) == "850 ns"
    assert rm.format_time(3.07e-3) == "3.07 ms"
    assert rm.format_bytes(64e3) == "64 kB"
    assert rm.format_rate(25e9) == "25 GB/s"


def _lexsort_rank(group, t, seq):
    """The queue rank as first written: a three-key lexsort (the reference for ``_rank_within``)."""
    order = np.lexsort((seq, t, group))
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    rank = np.empty(g.size, dtype=np.int64)
    rank[order] = np.arange(g.size) - np.repeat(starts, np.diff(np.r_[starts, g.size]))
    return rank


def test_queue_rank_equals_the_lexsort_rank_with_ties():
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(0, 400))
        n_groups = int(rng.integers(1, 2 * n + 2))  # from one long queue to mostly singletons
        group = rng.integers(0, n_groups, n) - (5 if trial % 3 == 0 else 0)  # negative ids too
        t = rng.integers(0, int(rng.integers(1, 6)), n) * 1e-7  # few distinct instants: many ties
        seq = rng.integers(0, int(rng.integers(1, 4)), n)  # ties in all three keys as well
        if trial % 7 == 0:
            seq = seq * (2 ** 60)  # a seq span too wide for one int64 key: the lexsort fallback
        if trial % 11 == 0:
            t = rng.random(n)  # continuous times
        assert np.array_equal(rm._rank_within(group, t, seq), _lexsort_rank(group, t, seq)), trial


def test_queue_rank_of_singletons_is_zero_and_orders_a_queue_by_time_then_seq():
    assert rm._rank_within(np.array([4, 9, 2]), np.zeros(3), np.zeros(3, dtype=np.int64)).tolist() == [0, 0, 0]
    g = np.array([1, 1, 1, 1, 2])
    t = np.array([2.0, 1.0, 1.0, 0.5, 9.0])
    seq = np.array([0, 5, 3, 9, 0])
    assert rm._rank_within(g, t, seq).tolist() == [3, 2, 1, 0, 0]


def _positions_as_first_written(geom, chunks, now_s):
    """particle_positions before per-link vectors were precomputed (the reference)."""
    link = np.clip(np.asarray(chunks.link, dtype=np.int64), 0, geom.x0.size - 1)
    on_link = np.asarray(chunks.on_link, dtype=bool)
    start, ready = np.asarray(chunks.start_s, dtype=float), np.asarray(chunks.ready_s, dtype=float)
    frac = np.clip((now_s - start) / np.maximum(ready - start, 1e-300), 0.0, 1.0)
    moving = on_link & (frac < 1.0)
    x0, y0 = geom.x0[link], geom.y0[link]
    dx, dy = geom.x1[link] - x0, geom.y1[link] - y0
    x, y = x0 + dx * np.where(on_link, frac, 0.0), y0 + dy * np.where(on_link, frac, 0.0)
    wait = np.flatnonzero(~moving)
    if wait.size:
        rank = _lexsort_rank(link[wait], ready[wait], np.asarray(chunks.queue_pos)[wait])
        length = np.hypot(dx[wait], dy[wait])
        dist = np.minimum(np.minimum(rank + 1, rm.QUEUE_MAX_DRAWN) * rm.QUEUE_SPACING, rm.QUEUE_MAX_SHARE * length)
        share = dist / np.maximum(length, 1e-12)
        pos = np.where(on_link[wait], 1.0 - share, share)
        x[wait] = x0[wait] + dx[wait] * pos
        y[wait] = y0[wait] + dy[wait] * pos
    norm = np.maximum(np.hypot(dx, dy), 1e-12)
    return x, y, moving, dx / norm, dy / norm


def test_particle_positions_equal_the_first_written_ones_bit_for_bit():
    rng = np.random.default_rng(3)
    nodes = 30
    nx, ny = rng.random(nodes) * 10, rng.random(nodes) * 10
    src, dst = rng.integers(0, nodes, 200), rng.integers(0, nodes, 200)
    dst[:3] = src[:3]  # zero-length links too
    g = rm.link_geometry(nx, ny, src, dst, rng.integers(0, 3, 200))
    for trial in range(50):
        n = int(rng.integers(0, 3000))
        start = rng.integers(0, 5, n) * 1e-6
        ch = _chunks(link=rng.integers(0, 230, n), on_link=rng.random(n) < 0.6, start_s=start,
                     ready_s=start + rng.integers(0, 4, n) * 1e-6, queue_pos=rng.integers(0, 6, n),
                     msg=rng.integers(0, 50, n), tag=rng.integers(0, 40, n))
        now = float(rng.integers(0, 10)) * 1e-6
        p = rm.particle_positions(g, ch, now)
        x, y, moving, ux, uy = _positions_as_first_written(g, ch, now)
        for got, want in ((p.x, x), (p.y, y), (p.moving, moving), (p.ux, ux), (p.uy, uy)):
            assert np.array_equal(got, want), trial
        assert p.color.tolist() == (np.asarray(ch.tag) % len(rm.TAG_RGB)).tolist()


def test_streaks_of_all_particles_by_slice_equal_by_indices():
    g = _line_geometry()
    ch = _chunks(link=[0, 1, 2], start_s=[0.0, 0.0, 0.0], ready_s=[2.0, 2.0, 2.0])
    p = rm.particle_positions(g, ch, 1.0)
    for a, b in zip(rm.particle_segments(p, 0.2, slice(None)), rm.particle_segments(p, 0.2, np.arange(3))):
        assert np.array_equal(a, b)


def test_link_geometry_derived_vectors():
    g = _line_geometry()
    assert np.allclose(g.length, [1.0, 1.0, 1.0])
    assert np.allclose(g.ux, [1.0, 1.0, -1.0]) and np.allclose(g.uy, 0.0)
    assert np.array_equal(g.dx, g.x1 - g.x0)


def test_chip_load_from_a_precomputed_index_is_the_same():
    rng = np.random.default_rng(5)
    n_nodes, n_links, n_chips = 60, 400, 7
    node_chip = rng.integers(-1, n_chips, n_nodes)  # -1: a node on no chip (a switch)
    src, kind = rng.integers(0, n_nodes, n_links), rng.integers(0, 3, n_links)
    util = rng.random(n_links)
    want = rm.chip_load(util, src, kind, node_chip, n_chips)
    got = rm.chip_load_of(util, rm.chip_link_index(src, kind, node_chip, n_chips))
    assert np.array_equal(got, want) and got.shape == (n_chips,)
    # by hand: the mean over each chip's on-chip links
    for c in range(n_chips):
        mine = (kind == 0) & (node_chip[src] == c)
        assert np.isclose(want[c], util[mine].mean() if mine.any() else 0.0)
