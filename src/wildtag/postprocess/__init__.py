"""Post-training stages of the seed systems: thresholds with nocall (more stages to come)."""
