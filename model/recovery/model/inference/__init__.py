"""Fitting the model to a cohort: NUTS with its gate and time budget, the quick look, diagnostics
plots, and saving and loading a fitted model."""
