"""Every registered ID model: builds, trains a step, predicts probabilities, is deterministic,
and exposes a penultimate representation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recbench.batches import gather_batch
from recbench.ctr import FeatureSchema
from recbench.datasets import load_dataset
from recbench.nn import MLP, TargetAttention, masked_mean
from recbench.protocol import prepare
from recbench.registry import all_models
from recbench.training import TrainConfig, predict, seed_everything, train_id_model

ID_MODELS = [entry for entry in all_models() if entry.family == "id"]


@pytest.fixture(scope="module")
def synth():
    return prepare(load_dataset("synth"))


def build(entry, data, seed=0):
    seed_everything(seed)
    return entry.cls(entry.cls.Config(), FeatureSchema.from_data(data))


@pytest.mark.parametrize("entry", ID_MODELS, ids=lambda e: e.name)
def test_model_trains_a_step_and_predicts_probabilities(entry, synth):
    model = build(entry, synth)
    rows = synth.split_rows("train")[:64]
    batch = gather_batch(synth, rows, *model.history(synth, rows))
    output = model(batch)
    assert output.logit.shape == (64,)
    assert output.representation.shape[0] == 64 and output.representation.dim() == 2
    loss = torch.nn.functional.binary_cross_entropy_with_logits(output.logit, batch.label)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    probs = predict(model, synth, synth.split_rows("test")[:100])
    assert probs.shape == (100,) and ((probs > 0) & (probs < 1)).all()


@pytest.mark.parametrize("entry", ID_MODELS, ids=lambda e: e.name)
def test_training_is_deterministic(entry, synth):
    config = TrainConfig(max_epochs=1, max_train_rows=2000, batch_size=256)
    outputs = []
    for _ in range(2):
        model = build(entry, synth, seed=7)
        train_id_model(model, synth, config, seed=7)
        outputs.append(predict(model, synth, synth.split_rows("valid")))
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("entry", ID_MODELS, ids=lambda e: e.name)
def test_training_and_scoring_embeddings_agree(entry, synth):
    """Training embeds the batch's distinct items once (recbench.nn.embed_distinct), scoring looks
    fields up directly: the same function, so the logits match and the gradients reach the same rows."""
    model = build(entry, synth).eval()  # eval: dropout off, so the two passes differ only in the lookup
    rows = synth.split_rows("train")[:128]
    batch = gather_batch(synth, rows, *model.history(synth, rows))
    with torch.no_grad():
        scored = model(batch).logit
    trained = model(batch).logit
    torch.testing.assert_close(trained.detach(), scored, atol=1e-6, rtol=0)
    trained.sum().backward()
    touched = model.embedding.weight.grad.abs().sum(1) > 0
    used = torch.zeros_like(touched)
    for ids in (batch.user, batch.item, batch.hist_item[batch.hist_mask], batch.hist_rating[batch.hist_mask]):
        used[ids.flatten()] = True
    assert not (touched & ~used).any()  # no gradient on a feature the batch does not show (padding included)


def test_distinct_pooling_equals_the_masked_mean_of_the_window():
    from recbench.nn import masked_mean, pooled_distinct

    torch.manual_seed(0)
    weight = torch.randn(50, 4)
    items = torch.randint(10, 50, (6, 9))
    ids = torch.stack([items, items % 7, items // 10], dim=-1)  # fields that are functions of column 0
    mask = torch.rand(6, 9) > 0.3
    mask[0] = False  # a sample with no history pools to zeros
    expected = masked_mean(weight[ids], mask)
    torch.testing.assert_close(pooled_distinct(weight, ids, mask), expected, atol=1e-6, rtol=0)
    ratings = torch.randint(45, 50, (6, 9, 1))  # few distinct rows: the dense path
    torch.testing.assert_close(pooled_distinct(weight, ratings, mask), masked_mean(weight[ratings], mask), atol=1e-6, rtol=0)


def test_shared_blocks_shapes():
    assert MLP(8, (16, 4)).output_dim == 4
    values = torch.arange(12, dtype=torch.float32).reshape(1, 3, 4)
    mask = torch.tensor([[True, True, False]])
    assert masked_mean(values, mask).tolist() == [[2.0, 3.0, 4.0, 5.0]]
    att = TargetAttention(key_dim=4, hidden=(8,), softmax=True)
    pooled = att(torch.randn(2, 4), torch.randn(2, 3, 4), torch.randn(2, 3, 5), torch.tensor([[1, 1, 0], [0, 0, 0]]).bool())
    assert pooled.shape == (2, 5)
    assert torch.equal(pooled[1], torch.zeros(5))  # no behaviours -> nothing pooled


def test_target_attention_equals_the_explicit_concatenation():
    torch.manual_seed(0)
    att = TargetAttention(key_dim=6, hidden=(8, 4))
    t, h, mask = torch.randn(3, 6), torch.randn(3, 5, 6), torch.rand(3, 5) > 0.3
    q = t.unsqueeze(1).expand_as(h)
    explicit = att.rest(torch.relu(att.first(torch.cat([q, h, q - h, q * h], dim=-1))))
    scores = att.score(explicit).squeeze(-1) * mask
    expected = (scores.unsqueeze(-1) * h).sum(1)
    torch.testing.assert_close(att(t, h, h, mask), expected)  # padded behaviours skip the MLP
    full = torch.ones_like(mask)
    expected_full = (att.score(explicit).squeeze(-1).unsqueeze(-1) * h).sum(1)
    torch.testing.assert_close(att(t, h, h, full), expected_full)  # nothing to skip: the unpacked path


def test_target_attention_with_a_key_table_equals_the_per_behaviour_keys():
    """DIN's attention may project the batch's distinct keys once (key_table / key_index): same outputs, same gradients."""
    torch.manual_seed(0)
    att = TargetAttention(key_dim=6, hidden=(8, 4))
    table = torch.randn(7, 6, requires_grad=True)
    index = torch.randint(0, 7, (3, 5))
    t, mask = torch.randn(3, 6), torch.rand(3, 5) > 0.3
    for m in (mask, torch.ones_like(mask)):
        keys = table[index] * m.unsqueeze(-1)
        plain = att(t, keys, keys, m)
        grads_plain = torch.autograd.grad(plain.sum(), (att.first.weight, table))
        keys = table[index] * m.unsqueeze(-1)
        tabled = att(t, keys, keys, m, table, index)
        grads_tabled = torch.autograd.grad(tabled.sum(), (att.first.weight, table))
        torch.testing.assert_close(tabled, plain, atol=1e-6, rtol=0)
        for ours, theirs in zip(grads_tabled, grads_plain):
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="go together"):
        att(t, keys, keys, mask, table, None)


@pytest.mark.parametrize("rows,shape,width", [(50, (6, 9), 4), (3, (4, 30), 2), (200, (5,), 3)])
def test_row_gathers_match_torch_lookups_in_value_and_gradient(rows, shape, width):
    """recbench.row_gather: the gather's gradient is bit-identical to torch's; the pool's agrees to float rounding."""
    from recbench.row_gather import gather_rows, pool_rows

    torch.manual_seed(0)
    weight = torch.randn(rows, width, requires_grad=True)
    index = torch.randint(0, rows, shape)
    upstream = torch.randn(*shape, width)
    ours = gather_rows(weight, index)
    (grad_ours,) = torch.autograd.grad((ours * upstream).sum(), weight)
    theirs = torch.nn.functional.embedding(index, weight)
    (grad_theirs,) = torch.autograd.grad((theirs * upstream).sum(), weight)
    assert torch.equal(ours, theirs) and torch.equal(grad_ours, grad_theirs)
    if len(shape) == 2:
        share = torch.rand(shape)
        up = torch.randn(shape[0], width)
        (grad_pool,) = torch.autograd.grad((pool_rows(weight, index, share) * up).sum(), weight)
        bag = torch.nn.functional.embedding_bag(index, weight, mode="sum", per_sample_weights=share)
        (grad_bag,) = torch.autograd.grad((bag * up).sum(), weight)
        torch.testing.assert_close(pool_rows(weight, index, share), bag, atol=0, rtol=0)
        torch.testing.assert_close(grad_pool, grad_bag, atol=1e-6, rtol=0)
    with torch.no_grad():  # scoring: the plain lookup
        assert torch.equal(gather_rows(weight, index), theirs)
