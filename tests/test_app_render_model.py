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


def test_moving_chunk_interpolates_and_waiting_chunks_queue_behind_link():
    g = _line_geometry()
    L = 3
    # chunk 0 on link 0, halfway; chunks 1-2 wait in link 1's injection queue (buffer L + 1)
    c_buf = np.array([0, L + 1, L + 1])
    c_seq = np.array([0, 0, 1])
    c_nxt = np.array([1, 1, 1])
    c_start = np.array([0.0, 0.0, 0.0])
    c_ready = np.array([2.0, 0.0, 0.0])
    c_msg = np.array([0, 1, 1])
    p = rm.particle_positions(g, L, 1.0, c_buf, c_seq, c_nxt, c_start, c_ready, c_msg, np.array([3, 5]))
    assert p.moving.tolist() == [True, False, False]
    assert np.isclose(p.x[0], 0.5)
    # queued chunks sit before the start of link 1 (x = 1), the second further back
    assert p.x[1] < 1.0 and p.x[2] < p.x[1]
    assert p.color.tolist() == [3, 5, 5]
    xs, ys = rm.particle_segments(p, 0.2, np.array([0]))
    assert np.isclose(xs[1] - xs[0], 0.2)


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
