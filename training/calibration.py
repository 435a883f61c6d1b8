"""Temperature scaling fitted on dev logits, so confidences mean what they say."""
from __future__ import annotations

import numpy as np
import torch


def fit_temperature(logits: np.ndarray, label_ids: np.ndarray, max_iter: int = 200) -> float:
    """The temperature minimising dev negative log-likelihood (optimised in log space, so it stays positive)."""
    logits_t = torch.tensor(logits, dtype=torch.float64)
    labels_t = torch.tensor(label_ids, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter)

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits_t / log_t.exp(), labels_t)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(np.clip(log_t.exp().item(), 0.05, 20.0))
