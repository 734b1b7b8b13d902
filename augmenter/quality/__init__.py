"""Perceptual quality model Q: ratings, metrics and evaluation of predicted naturalness.

LEGAN judges its synthetic faces with a quality model Q trained to predict how natural a face
looks to people: each training image carries three human 1-10 naturalness ratings, summarised
as their mean ``m`` and standard deviation ``s``. :mod:`augmenter.quality.ratings` reads such a
ratings table (the LEGAN Perceptual Dataset file list, or any CSV/TSV with a path, mean and std
column) into one pandas form, assigns seeded stratified train/val/test splits and writes the
table back; :mod:`augmenter.quality.simulated` builds a stand-in ratings set from the built-in
sample faces with synthetic artifacts and simulated raters, so Q's training can run end to end
where no human ratings exist (it is not a model of human perception);
:mod:`augmenter.quality.study` reads a human perception study's per-participant answers (the
human-realism study: ``img.csv`` + ``ans.csv``) into the same table, with the people's split-half
ceiling; :mod:`augmenter.quality.failures` damages aligned faces the way generators fail on real
photos, at graded severity. Modules are imported
explicitly (``from augmenter.quality.ratings import read_ratings``): importing the package
loads nothing heavy.
"""
