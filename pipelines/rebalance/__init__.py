"""``rebalance-affectnet``: synthesize rare expressions with LEGAN until every class reaches a target count,
keep only what Q and an expression classifier accept, and measure what that does to a classifier.

Flow (one way): read the training split → count classes → :mod:`.plan` (targets, sources) →
:mod:`.synthesize` (rounds of LEGAN + Q + expression judge, journalled) → :mod:`.outputs` (manifest with
real and synthetic rows, summary JSON, report page) → optionally :mod:`.compare` (train baseline and
rebalanced classifiers with the same seed and budget, table with deltas; once per seed, then the table over
seeds, ``seeds.md`` / ``seeds.json``, with mean ± sd and paired 95 % intervals, :mod:`pipelines.seed_table`).
"""
