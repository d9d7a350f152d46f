"""One-shot detection ("find more like this box"): query-patch features, the sliding-window cosine
baseline, the Deformable-DETR + UP-DETR query-patch model, and its random-query-patch pretraining."""
