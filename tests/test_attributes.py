"""Lighting and expression vocabularies and the dataset mappings onto them."""
import pytest

from augmenter.attributes import (
    AMBIENT, EMOTIONS, EXPRESSIONS, FLASH_DIRECTIONS, LIGHTING, MULTIPIE_EXPRESSIONS, binned_lighting,
    emotion_to_expression, expression_to_emotion, multipie_lighting, nearest_lighting, one_hot_index,
)


def test_vocabulary_sizes_and_order():
    assert len(FLASH_DIRECTIONS) == 18 and LIGHTING[0] == AMBIENT and len(LIGHTING) == 19
    assert MULTIPIE_EXPRESSIONS == ("neutral", "smile", "surprise", "squint", "disgust", "scream")
    assert len(EMOTIONS) == 8 and len(set(EXPRESSIONS)) == len(EXPRESSIONS) == 11  # 6 Multi-PIE + happy, sad, fear, anger, contempt


@pytest.mark.parametrize("ident, name", [("00", AMBIENT), (19, AMBIENT), ("01", "flash01"), ("07", "flash07"),
                                         ("18", "flash18")])
def test_multipie_illumination_ids(ident, name):
    assert multipie_lighting(ident) == name


@pytest.mark.parametrize("bad", ["20", -1, "x"])
def test_multipie_illumination_out_of_range(bad):
    with pytest.raises(ValueError):
        multipie_lighting(bad)


def test_nearest_lighting_on_the_sphere():
    assert nearest_lighting(0, 0) == "flash07"
    assert nearest_lighting(-35, 0) == "flash05"          # (-30, 0) is 5 deg away
    assert nearest_lighting(-35, 20) == "flash15"         # (-30, 35): 16 deg; (-30, 0): 21 deg
    assert nearest_lighting(130, 20) == "flash13"         # beyond the rig: nearest is +90
    assert nearest_lighting(7.5, 0) == "flash07"          # a tie goes to the first entry in table order
    with pytest.raises(ValueError, match="deg from the nearest light"):
        nearest_lighting(130, 20, max_angle=30)


def test_binned_lighting_names():
    assert binned_lighting(35, 20) == "az+030_el+030"
    assert binned_lighting(-130, -20) == "az-120_el-030"


def test_emotion_expression_mapping_round_trips_where_defined():
    for emotion in EMOTIONS:
        expression = emotion_to_expression(emotion)
        if expression is not None:
            assert expression_to_emotion(expression) == emotion
    assert emotion_to_expression("anger") is None and expression_to_emotion("scream") is None


def test_one_hot_index_error_lists_the_vocabulary():
    assert one_hot_index("smile", MULTIPIE_EXPRESSIONS) == 1
    with pytest.raises(ValueError, match="neutral, smile"):
        one_hot_index("grin", MULTIPIE_EXPRESSIONS)
