"""Bag tools: read bags, replay them through the core, clip, recover, evaluate against truth, report."""
