"""webdetr's Python tool chain: model references, exporter, fixture generators, training (CPU, Debian torch)."""
