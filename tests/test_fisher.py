"""The Fisher spectrum proxy: its hooked per-image gradients against a direct computation."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call, jacrev, vmap

from fne.evolution.fitness import get_proxy
from fne.evolution.fitness.fisher import FISHER_SMOOTHING, fisher_spectrum, spectrum_entropy
from fne.genotopheno import get_space

CELLS = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|none~1|skip_connect~2|",
)


def _direct_fisher(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``mean_x J^T (diag p - p p^T) J`` over the first element of every parameter tensor, with
    the full Jacobian of each image's logits (eval mode)."""
    net.eval()
    params = {n: p.detach() for n, p in net.named_parameters()}
    buffers = {n: b.detach() for n, b in net.named_buffers()}
    names = list(params)

    def logits(firsts: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        changed = {}
        for i, n in enumerate(names):
            flat = params[n].flatten()
            changed[n] = torch.cat([firsts[i : i + 1], flat[1:]]).reshape(params[n].shape)
        return functional_call(net, (changed, buffers), (image.unsqueeze(0),)).squeeze(0)

    firsts = torch.stack([params[n].flatten()[0] for n in names])
    jac = vmap(jacrev(logits), in_dims=(None, 0))(firsts, x).double()  # (n, K, L)
    with torch.no_grad():
        out = net(x).double()
    k = out.shape[1]
    p = torch.softmax(out, 1) * (1 - FISHER_SMOOTHING) + FISHER_SMOOTHING / k
    cov = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)
    return (jac.transpose(1, 2) @ cov @ jac).mean(0)


@pytest.mark.parametrize("cell", CELLS)
def test_the_hooked_spectrum_is_the_fisher_spectrum(cell: str) -> None:
    space = get_space("nb201")
    torch.manual_seed(0)
    net = space.build(space.live(space.parse(cell)), C=4, N=1)
    x = torch.randn(6, 3, 16, 16)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    hooked = fisher_spectrum(net, x, images=6)
    direct = torch.linalg.eigvalsh(_direct_fisher(net, x))
    assert len(hooked) == len(direct) == len(list(net.parameters()))
    assert torch.allclose(hooked, direct, rtol=1e-4, atol=1e-9 * float(direct.max()))
    # the network is left as it was
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not net.training or all(m.training for m in net.modules())


def test_the_entropy_of_the_deciles() -> None:
    assert spectrum_entropy(torch.ones(20)) == pytest.approx(math.log(9))
    uneven = spectrum_entropy(torch.logspace(-6, 0, 20))
    assert 0 < uneven < math.log(9)
    assert math.isnan(spectrum_entropy(torch.zeros(5)))


def test_the_proxy_is_registered_with_its_unit_and_direction() -> None:
    proxy = get_proxy("fisher_entropy")
    assert proxy.higher_is_better and "Fisher" in (proxy.unit or "")
    space = get_space("nb201")
    torch.manual_seed(1)
    net = space.build(space.parse(CELLS[0]), C=4, N=1)
    value = proxy(net, torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,)))
    assert 0 < value <= math.log(9)
