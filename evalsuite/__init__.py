"""evalsuite: evaluation tasks, baselines, statistics, results store, reports and the regression gate."""
