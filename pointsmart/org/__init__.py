"""Org units: county (县) → township (乡镇) → village (村/社区), by 12-digit division code."""
