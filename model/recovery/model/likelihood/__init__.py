"""The pain-trajectory kernel, the residual filter, the priors and the PyMC model built from them,
with the compiled ops that evaluate the likelihood."""
