"""Networks: Q (perceptual quality), and later LEGAN, StarGAN and identity networks."""
