"""The README's main job: render the sample, read it back, draw the contact sheet."""
from augmenter.attributes import LIGHTING, MULTIPIE_EXPRESSIONS
from augmenter.io import decode_image
from pipelines.demo import run_demo


def test_demo_renders_reads_back_and_draws(tmp_path):
    result = run_demo(tmp_path, identities=1, size=64)
    expected = len(LIGHTING) * len(MULTIPIE_EXPRESSIONS)
    assert result.render.written == expected and result.n_records == expected and result.n_skipped == 0
    assert set(result.per_expression) == set(MULTIPIE_EXPRESSIONS)
    grid = decode_image(result.grid_path)
    assert grid.shape == (64, 64 * (len(LIGHTING) + len(MULTIPIE_EXPRESSIONS)), 3)
    assert result.translations is not None and decode_image(result.translations).shape[0] > 64
    assert set(result.q_by_target) >= {"flash02", "smile"} and all(0.1 <= q <= 1 for q in result.q_by_target.values())
    again = run_demo(tmp_path, identities=1, size=64, translate=False)  # a rerun resumes: nothing rendered twice
    assert again.render.written == 0 and again.render.resumed == expected
