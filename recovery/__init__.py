"""Recovery: recovery-outcome simulation and forecasting for massage and physiotherapy."""
