"""Input preprocessing as the reference data and the official evaluation use it.

API:
- load_rgb(path) -> PIL RGB image.
- eval_size(width, height, shorter=800, longest=1333) -> (out_w, out_h): the official eval transform's
  RandomResize([800], max_size=1333) size rule.
- resize_for_eval(image) -> PIL image resized with PIL bilinear to eval_size.
- to_normalized_tensor(image) -> [1, 3, H, W] float32, (rgb/255 - mean) / std (ImageNet mean/std).
- crop_patches(image, boxes_xyxy, size=128) -> [1, K, 3, size, size]: PIL crop, PIL bilinear resize,
  normalized like the image (the UP-DETR query patches of the reference data).
"""
import numpy as np
import torch
from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def load_rgb(path):
    return Image.open(path).convert("RGB")


def eval_size(width: int, height: int, shorter: int = 800, longest: int = 1333):
    size = shorter
    small, large = float(min(width, height)), float(max(width, height))
    if large / small * size > longest:
        size = int(round(longest * small / large))
    if (width <= height and width == size) or (height <= width and height == size):
        return width, height
    if width < height:
        return size, int(size * height / width)
    return int(size * width / height), size


def resize_for_eval(image, shorter: int = 800, longest: int = 1333):
    out_w, out_h = eval_size(image.width, image.height, shorter, longest)
    if (out_w, out_h) == (image.width, image.height):
        return image
    return image.resize((out_w, out_h), Image.BILINEAR)


def to_normalized_tensor(image):
    rgb = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float().div(255)
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return ((rgb - mean) / std)[None]


def crop_patches(image, boxes_xyxy, size: int = 128):
    patches = [
        to_normalized_tensor(image.crop(tuple(box)).resize((size, size), Image.BILINEAR))[0] for box in boxes_xyxy
    ]
    return torch.stack(patches)[None]
