"""LoRA+ (PEFT's create_loraplus_optimizer): torch optimizers with two parameter groups, lora_A at lr and
lora_B at lr * loraplus_lr_ratio, over a few steps of given gradients. Writes fixtures/loraplus.json.

    /usr/bin/python3 reference/loraplus_fixture.py
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lora4j-core", "src", "test", "resources", "fixtures")


def main():
    torch.manual_seed(19)
    a0, b0 = torch.randn(6), torch.randn(5)
    grads = [(torch.randn(6), torch.randn(5)) for _ in range(4)]
    out = {"ratio": 16.0, "a0": a0.tolist(), "b0": b0.tolist(), "grads": [[ga.tolist(), gb.tolist()] for ga, gb in grads], "cases": []}
    for name, lr, make in (
            ("adamw", 0.01, lambda groups: torch.optim.AdamW(groups, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
            ("sgd-momentum", 0.05, lambda groups: torch.optim.SGD(groups, momentum=0.9, weight_decay=0.01))):
        a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
        # PEFT's groups: "groupA" at lr, "groupB" (lora_B) at lr * loraplus_lr_ratio, both with the weight decay
        opt = make([{"params": [a], "lr": lr}, {"params": [b], "lr": lr * out["ratio"]}])
        traj = []
        for ga, gb in grads:
            a.grad, b.grad = ga.clone(), gb.clone()
            opt.step()
            traj.append([a.detach().tolist(), b.detach().tolist()])
        out["cases"].append({"name": name, "lr": lr, "after": traj})
    with open(os.path.join(OUT, "loraplus.json"), "w") as f:
        json.dump(out, f)
    print("loraplus: written")


if __name__ == "__main__":
    main()
