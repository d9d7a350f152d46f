"""Our own detection metrics (COCO-style AP) and one-shot evaluation."""
