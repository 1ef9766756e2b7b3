"""Impact of the model in production, measured on realised outcomes: the joined-pair frame
(`impact.pairs`), the metrics on it (`impact.metrics`) and the analyst's report."""
