"""LEGAN and StarGAN: data bank, model building, training, translation and evaluation."""
