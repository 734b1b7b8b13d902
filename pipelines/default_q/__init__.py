"""The shipped default Q: its training recipe (``run``), stage-1 pool (``pool``), held-out measurement
(``measure``) and export (``export``); ``augment-train-default-q`` runs them."""
