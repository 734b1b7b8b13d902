"""``rebalance-affectnet``: synthesize rare expressions with LEGAN until every class reaches a target count,
keep only what Q and an expression classifier accept, and measure what that does to a classifier.

Flow (one way): read the training split → count classes → :mod:`.plan` (targets, sources) →
:mod:`.synthesize` (rounds of LEGAN + Q + the expression judge of :mod:`.judge`, journalled and resumable: the
toolkit's quota engine, :mod:`augmenter.expand.quota`) → :mod:`.outputs` (manifest with
real and synthetic rows, summary JSON, report page) → optionally :mod:`.compare` (train baseline and
rebalanced classifiers with the same seed and budget, table with deltas; once per seed, then the table over
seeds, ``seeds.md`` / ``seeds.json``, with mean ± sd and paired 95 % intervals, :mod:`pipelines.seed_table`).
"""
