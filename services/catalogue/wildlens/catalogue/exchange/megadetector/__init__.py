"""MegaDetector batch output JSON (format 1.6), in and out."""
