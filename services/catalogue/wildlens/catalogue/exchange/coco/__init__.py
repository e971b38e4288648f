"""COCO Camera Traps JSON (the exchange format of LILA and Animl), in and out."""
