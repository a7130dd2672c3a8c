"""Service level objectives per API: objectives, compliance and error budget from gateway data, burn-rate alerts."""
