"""Seedance as the server knows it: every endpoint's parameters, limits, output sizes and prices."""
