"""Detector v2 (issue 34): Deformable-DETR (box refinement, two-stage) on the CenterNet teacher's neck.
See README-detector-v2.md in tools/webdetr_tools/."""
