"""Impact of the model in production, measured on realised outcomes: the joined-pair frame
(`impact.pairs`), the metrics on it by family (`impact.discrimination`, `impact.calibration`,
`impact.rates`, `impact.fairness`, `impact.loss`, `impact.what_if`, gathered per version by
`impact.performance`) and the analyst's report (`impact.report`)."""
