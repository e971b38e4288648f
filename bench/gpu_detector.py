"""MegaDetector-v5-size detector throughput on one CUDA GPU: model only and end to end.

The model is YOLOv5x6 (MegaDetector v5's architecture, random weights) at 1280 px from
``tests/support/yolo_models.py``, run in fp16, channels-last, under ``torch.inference_mode``.
End to end means the real 2048x1440 camera-trap JPEGs as bytes in memory, decoded (nvJPEG on
the GPU when torchvision has it, else PIL in a thread pool), letterboxed on the GPU exactly as
``wildlens.common.imaging`` plans it, the model, then objectness x class score,
the 0.2 threshold and class-aware NMS on the GPU, and the kept boxes copied back to the host.

    python bench/gpu_detector.py [--seconds 8] [--batches 8,16,32] [--compile] [--out gpu.txt]

The last line reads ``gpu detector throughput: <images/s> images/s, ratio R`` (the best end-to-end
figure; R = end to end / model only at the same batch size).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # the name everyone reads
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.yolo_models import YoloV5, yolov5x6  # noqa: E402

MEDIA = ROOT / "tests" / "data" / "camtrap-dp" / "example" / "media"
SIZE = 1280
PAD = 114
THRESHOLD = 0.2
NMS_IOU = 0.45

Report = Callable[[str], None]


def letterbox_plan(width: int, height: int) -> tuple[int, int, int, int]:
    """Resized width/height and left/top padding, rounded as the CPU preprocessing rounds."""
    ratio = min(SIZE / width, SIZE / height)
    new_w = min(SIZE, max(1, round(width * ratio)))
    new_h = min(SIZE, max(1, round(height * ratio)))
    return new_w, new_h, (SIZE - new_w) // 2, (SIZE - new_h) // 2


def letterbox_gpu(images: list[torch.Tensor], out: torch.Tensor) -> None:
    """uint8 ``[3, H, W]`` CUDA images into ``out`` (``[B, 3, SIZE, SIZE]`` fp16, 0..1)."""
    out.fill_(PAD / 255)
    for i, image in enumerate(images):
        _, h, w = image.shape
        new_w, new_h, left, top = letterbox_plan(w, h)
        # Antialiased bilinear, like PIL's downscaling, so boxes match the CPU path.
        resized = F.interpolate(
            image[None].float(), size=(new_h, new_w), mode="bilinear", antialias=True
        )
        out[i, :, top : top + new_h, left : left + new_w] = resized[0] / 255


def postprocess(raw: torch.Tensor) -> list[torch.Tensor]:
    """``[B, A, 8]`` to kept ``[N, 6]`` (x1, y1, x2, y2, score, label) per image, on the host."""
    from torchvision.ops import batched_nms

    scores_all = raw[..., 5:] * raw[..., 4:5]
    scores, labels = scores_all.max(-1)
    kept = []
    for b in range(raw.shape[0]):
        mask = scores[b] >= THRESHOLD
        box = raw[b, mask, :4].float()
        xyxy = torch.cat((box[:, :2] - box[:, 2:] / 2, box[:, :2] + box[:, 2:] / 2), 1)
        s, lab = scores[b, mask].float(), labels[b, mask]
        keep = batched_nms(xyxy, s, lab, NMS_IOU)[:300]
        kept.append(torch.cat((xyxy[keep], s[keep, None], lab[keep, None].float()), 1))
    return [k.cpu() for k in kept]


def timed(run: Callable[[], object], seconds: float, warmup: int) -> tuple[int, float]:
    for _ in range(warmup):
        run()
    torch.cuda.synchronize()
    started = time.perf_counter()
    calls = 0
    while time.perf_counter() - started < seconds:
        run()
        calls += 1
    torch.cuda.synchronize()
    return calls, time.perf_counter() - started


class Decoder:
    """JPEG bytes to uint8 CUDA tensors: nvJPEG in batches where available, else PIL."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=16)
        self.how = "pil-threads"
        try:
            from torchvision.io import decode_jpeg

            probe = torch.frombuffer(
                bytearray(next(MEDIA.glob("*.JPG")).read_bytes()), dtype=torch.uint8
            )
            decode_jpeg([probe], device="cuda")
            self.how = "nvjpeg"
        except Exception as exc:  # any failure means: use the CPU path
            print(f"nvJPEG unavailable ({exc!r}); decoding with PIL threads", flush=True)

    def __call__(self, blobs: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.how == "nvjpeg":
            from torchvision.io import decode_jpeg

            decoded: list[torch.Tensor] = decode_jpeg(blobs, device="cuda")
            return decoded
        arrays = list(self.pool.map(_pil_decode, blobs))
        return [
            torch.from_numpy(a).pin_memory().cuda(non_blocking=True).permute(2, 0, 1)
            for a in arrays
        ]


def _pil_decode(blob: torch.Tensor) -> np.ndarray:
    image = Image.open(io.BytesIO(blob.numpy().tobytes()))
    # JPEG draft mode would be faster but changes pixels; decode at full size like the service.
    return np.array(image.convert("RGB"))


Net = Callable[[torch.Tensor], torch.Tensor]


def random_batch(batch: int) -> torch.Tensor:
    x = torch.rand(batch, 3, SIZE, SIZE, device="cuda").half()
    return x.contiguous(memory_format=torch.channels_last)


def measure_batch(
    net: Net, batch: int, blobs: list[torch.Tensor], decoder: Decoder, seconds: float
) -> tuple[float, float]:
    """Images/s for the model alone on a ready batch, then for JPEG bytes to kept boxes."""
    x = random_batch(batch)
    with torch.inference_mode():
        calls, elapsed = timed(lambda: net(x), seconds, warmup=5)
    model_rate = calls * batch / elapsed

    picks = [blobs[i % len(blobs)] for i in range(batch)]
    canvas = torch.empty_like(x)

    def end_to_end() -> list[torch.Tensor]:
        letterbox_gpu(decoder(picks), canvas)
        return postprocess(net(canvas))

    with torch.inference_mode():
        calls, elapsed = timed(end_to_end, seconds, warmup=3)
    return model_rate, calls * batch / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batches", default="8,16,32")
    parser.add_argument("--compile", action="store_true", help="also try torch.compile")
    parser.add_argument("--compile-budget", type=float, default=240.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    lines: list[str] = []

    def report(line: str) -> None:
        print(line, flush=True)
        lines.append(line)
        if args.out is not None:
            args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")

    if not torch.cuda.is_available():
        # `make bench` runs every script; this one has nothing to measure without a GPU.
        print("gpu detector throughput: no CUDA device here; run it on a GPU node")
        return
    started_all = time.perf_counter()
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda")
    report(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    torch.manual_seed(0)
    model: YoloV5 = yolov5x6().eval().fuse().half().to(device)
    model = model.to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in model.parameters())
    report(
        f"model: YOLOv5x6 anchor-based (MegaDetector v5 layout), {params / 1e6:.1f} M params, "
        f"{SIZE} px, fp16, channels_last, batch norm fused"
    )

    blobs = [
        torch.frombuffer(bytearray(p.read_bytes()), dtype=torch.uint8)
        for p in sorted(MEDIA.glob("*.JPG"))
    ]
    decoder = Decoder()
    report(f"images: {len(blobs)} camera-trap JPEGs 2048x1440, decode: {decoder.how}")

    def measure(net: Net, tag: str) -> dict[int, tuple[float, float]]:
        figures: dict[int, tuple[float, float]] = {}
        for batch in batches:
            model_rate, e2e_rate = measure_batch(net, batch, blobs, decoder, args.seconds)
            figures[batch] = (model_rate, e2e_rate)
            report(
                f"{tag} batch {batch}: model only {model_rate:.1f} images/s, "
                f"end to end {e2e_rate:.1f} images/s"
            )
        return figures

    results = {"eager": measure(model, "eager")}

    if args.compile and time.perf_counter() - started_all < args.compile_budget:
        try:
            t0 = time.perf_counter()
            compiled = torch.compile(model, dynamic=False)
            with torch.inference_mode():
                compiled(random_batch(batches[-1]))
            torch.cuda.synchronize()
            report(f"torch.compile: first call {time.perf_counter() - t0:.0f} s")
            results["compiled"] = measure(compiled, "compiled")
        except Exception as exc:  # compile is optional; eager figures stand
            report(f"torch.compile failed: {exc!r}")

    best_tag, best_batch, (best_model, best_e2e) = max(
        ((tag, b, rates) for tag, fig in results.items() for b, rates in fig.items()),
        key=lambda item: item[2][1],
    )
    report(
        f"best: {best_tag} batch {best_batch}, model only {best_model:.1f} images/s, "
        f"end to end {best_e2e:.1f} images/s"
    )
    report(f"total seconds: {time.perf_counter() - started_all:.0f}")
    report(f"gpu detector throughput: {best_e2e:.1f} images/s, ratio {best_e2e / best_model:.2f}")


if __name__ == "__main__":
    main()
