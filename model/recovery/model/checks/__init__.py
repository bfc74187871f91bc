"""Whether the model says the right things: held-out forecast quality against baselines, drift of
a served model, and the phenomena every fit must reproduce."""
