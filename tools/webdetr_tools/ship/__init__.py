"""Our trained default models -> model packages in public/models (the official-checkpoint exporter lives in export/).

Modules: centernet (the frozen CenterNet MobileNetV3 backbone as export features), detector_package (the
general detector: Deformable-DETR with box refinement), oneshot_package (the query-patch one-shot model).
"""
