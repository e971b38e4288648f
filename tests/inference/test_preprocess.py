from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from wildlens.common.bundles import InputSpec
from wildlens.common.imaging import Letterbox, preprocess, preprocess_batch


@pytest.mark.parametrize(("width", "height"), [(640, 480), (480, 640), (1999, 1001), (77, 300)])
@pytest.mark.parametrize("letterbox", [True, False])
def test_box_round_trips_through_the_model_input(width: int, height: int, letterbox: bool) -> None:
    spec = InputSpec(width=320, height=256, letterbox=letterbox)
    transform = Letterbox.plan(width, height, spec)
    box_rel = np.array([0.137, 0.291, 0.402, 0.333])
    x, y, w, h = box_rel
    original_xyxy = [[x * width, y * height, (x + w) * width, (y + h) * height]]

    back = transform.to_relative_xywh(transform.to_input_xyxy(original_xyxy).astype(np.float64))

    np.testing.assert_allclose(back[0], box_rel, atol=1e-6)


def test_letterbox_is_centred_and_keeps_the_aspect_ratio() -> None:
    spec = InputSpec(width=64, height=64)

    landscape = Letterbox.plan(640, 480, spec)
    portrait = Letterbox.plan(480, 640, spec)

    assert (landscape.resized_size, landscape.pad_x, landscape.pad_y) == ((64, 48), 0, 8)
    assert (portrait.resized_size, portrait.pad_x, portrait.pad_y) == ((48, 64), 8, 0)


def test_tensor_is_padded_and_normalised_per_manifest() -> None:
    spec = InputSpec(width=8, height=8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 1.0))
    image = Image.new("RGB", (8, 4), (255, 0, 51))

    tensor, transform = preprocess(image, spec)

    assert tensor.shape == (3, 8, 8)
    assert tensor.dtype == np.float32
    assert (transform.pad_x, transform.pad_y) == (0, 2)
    image_rows = tensor[:, 2:6, :]
    np.testing.assert_allclose(image_rows[:, 0, 0], [1.0, -2.0, -0.3], atol=1e-6)
    # Padding is the pad value (114) put through the same normalisation.
    pad = 114 / 255
    np.testing.assert_allclose(
        tensor[:, 0, 0], [(pad - 0.5) / 0.5, (pad - 0.5) / 0.25, pad - 0.5], atol=1e-6
    )


def test_bgr_models_get_channels_swapped() -> None:
    spec = InputSpec(width=4, height=4, channel_order="BGR", scale=1.0)

    tensor, _ = preprocess(Image.new("RGB", (4, 4), (10, 20, 30)), spec)

    assert tensor[:, 0, 0].tolist() == [30.0, 20.0, 10.0]


def test_boxes_in_the_padding_are_clipped_to_the_image() -> None:
    transform = Letterbox.plan(640, 480, InputSpec(width=64, height=64))  # pad_y = 8

    rel = transform.to_relative_xywh([[-5, 0, 32, 20], [10, 58, 20, 63]])

    np.testing.assert_allclose(rel[0], [0.0, 0.0, 0.5, 12 / 48], atol=1e-9)
    assert rel[1][3] == 0.0  # wholly below the image: no height left


def test_batch_stacks_images_of_any_size_and_mode() -> None:
    spec = InputSpec(width=32, height=32)
    images = [
        Image.new("L", (100, 40), 200),
        Image.new("RGBA", (40, 100)),
        Image.new("RGB", (7, 7)),
    ]

    batch, transforms = preprocess_batch(images, spec)

    assert batch.shape == (3, 3, 32, 32)
    assert [t.orig_width for t in transforms] == [100, 40, 7]


@pytest.mark.parametrize(("width", "height"), [(48, 48), (61, 37), (20, 90)])
@pytest.mark.parametrize("letterbox", [True, False])
@pytest.mark.parametrize("order", ["RGB", "BGR"])
def test_a_grey_image_gives_exactly_the_tensor_of_its_rgb_conversion(
    width: int, height: int, letterbox: bool, order: str
) -> None:
    # Grey vignettes are resampled as they are, not converted first: same numbers.
    rng = np.random.default_rng(width * height)
    grey = Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), "L")
    spec = InputSpec(
        width=32,
        height=32,
        letterbox=letterbox,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        channel_order=order,
    )
    tensor, transform = preprocess(grey, spec)
    expected, expected_transform = preprocess(grey.convert("RGB"), spec)
    np.testing.assert_array_equal(tensor, expected)
    assert transform == expected_transform
