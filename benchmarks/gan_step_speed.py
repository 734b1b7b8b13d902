"""GAN training-step throughput: LEGAN vs StarGAN at 64 and 128 px, measured in one run.

One step = one discriminator update (real, fake, gradient penalty, classification) and one generator
update (adversarial, classification, cycle, paired L1), as augmenter.gan.train does with n_critic 1.
Prints images/s per configuration and the LEGAN / StarGAN ratio at each size.
Usage: .venv/bin/python benchmarks/gan_step_speed.py [--batch-size 16] [--steps 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import torch

from augmenter.gan.models import build_discriminator, build_generator, one_hot
from augmenter.device import resolve_device
from augmenter.losses import gradient_penalty, l1_loss, masked_cross_entropy, wgan_critic_loss, wgan_generator_loss


def step_rate(arch: str, size: int, batch: int, steps: int, device: torch.device, amp: bool) -> float:
    torch.manual_seed(0)
    G = build_generator(arch, 19, 6, 24 if arch == "legan" else 32).to(device)
    D = build_discriminator(size, 19, 6, 32).to(device)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-4), torch.optim.Adam(D.parameters(), 1e-4)
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    labels_l, labels_e = torch.randint(19, (batch,), device=device), torch.randint(6, (batch,), device=device)
    c_l, c_e = one_hot(labels_l, 19), one_hot(labels_e, 6)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and device.type == "cuda")

    def one_step():
        with autocast:
            real, rl, re = D(x)
            with torch.no_grad():
                fake = G(x, c_l, c_e)
            points = (0.5 * x + 0.5 * fake.float()).requires_grad_(True)
            d_loss = (wgan_critic_loss(real.float(), D(fake)[0].float()) + 10 * gradient_penalty(D(points)[0].float(), points)
                      + masked_cross_entropy(rl.float(), labels_l) + masked_cross_entropy(re.float(), labels_e))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        with autocast:
            fake = G(x, c_l, c_e)
            score, fl, fe = D(fake)
            g_loss = (wgan_generator_loss(score.float()) + masked_cross_entropy(fl.float(), labels_l)
                      + 10 * l1_loss(G(fake, c_l, c_e), x) + 10 * l1_loss(fake, x))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    one_step()  # warm up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-amp", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    for size in (64, 128):
        rates = {arch: step_rate(arch, size, args.batch_size, args.steps, device, not args.no_amp)
                 for arch in ("legan", "stargan")}
        print(f"{size:>3} px, batch {args.batch_size}: LEGAN {rates['legan']:7.1f} img/s, "
              f"StarGAN {rates['stargan']:7.1f} img/s, LEGAN/StarGAN {rates['legan'] / rates['stargan']:.2f}")


if __name__ == "__main__":
    main()
