"""The attribute classifier: trained on real images, it judges GAN outputs' lighting and expression.

* :mod:`augmenter.classify.train_attr`: ``augment train-attr`` (:func:`train_attribute_classifier`);
* :mod:`augmenter.classify.model`: :func:`load_attribute_classifier`, :func:`predict_attributes` and the
  metrics GAN evaluation shares with training (within-one lighting accuracy, identity verification).
"""
