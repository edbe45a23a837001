"""Shared blocks of recbench.nn and the sequence handling of the models built on them: shapes,
masks (causal, key padding, empty histories) and exact equivalences with naive formulations."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from recbench.batches import IDBatch, gather_batch
from recbench.ctr import FeatureSchema
from recbench.datasets import load_dataset
from recbench.nn import CrossNetworkV2, MultiHeadSelfAttention, SelfAttentionBlock, align_right, masked_mean, masked_mean_lookup
from recbench.protocol import prepare
from recbench.registry import get_model
from recbench.training import seed_everything

SEQUENCE_MODELS = ("gru4rec", "caser", "sasrec")
FIELD_MODELS = ("deepfm", "autoint", "dcnv2")


@pytest.fixture(scope="module")
def synth():
    return prepare(load_dataset("synth"))


def build(name: str, data, **overrides):
    seed_everything(0)
    entry = get_model(name)
    return entry.cls(entry.cls.Config(**overrides), FeatureSchema.from_data(data))


def some_batch(data, model, n: int = 16) -> IDBatch:
    rows = data.split_rows("train")[:n]
    return gather_batch(data, rows, *model.history(data, rows))


def with_empty_history(batch: IDBatch, rows: slice) -> IDBatch:
    """The same batch with the histories of ``rows`` emptied (as gather_batch pads)."""
    mask, items, ratings = batch.hist_mask.clone(), batch.hist_item.clone(), batch.hist_rating.clone()
    mask[rows], items[rows], ratings[rows] = False, 0, 0
    return dataclasses.replace(batch, hist_mask=mask, hist_item=items, hist_rating=ratings)


# --- align_right -------------------------------------------------------------------------------


def test_align_right_moves_padding_to_the_front():
    values = torch.tensor([[1, 2, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]])
    aligned = align_right(values, torch.tensor([2, 4, 0]))
    assert aligned.tolist() == [[0, 0, 1, 2], [1, 2, 3, 4], [0, 0, 0, 0]]
    fields = torch.arange(24).reshape(2, 4, 3)  # trailing dims travel with their position
    aligned = align_right(fields, torch.tensor([1, 3]))
    assert torch.equal(aligned[0, 3], fields[0, 0]) and torch.equal(aligned[1, 1:], fields[1, :3])


# --- MultiHeadSelfAttention / SelfAttentionBlock -----------------------------------------------


def test_attention_shapes_and_head_check():
    attention = MultiHeadSelfAttention(input_dim=6, attention_dim=8, heads=4, project_output=False)
    assert attention(torch.randn(2, 5, 6)).shape == (2, 5, 8)
    assert attention(torch.randn(2, 5, 6), n_queries=2).shape == (2, 2, 8)
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadSelfAttention(6, 8, heads=3)


def test_attention_equals_the_explicit_softmax_formula():
    torch.manual_seed(0)
    attention = MultiHeadSelfAttention(input_dim=6, attention_dim=8, heads=2, causal=True)
    x, mask = torch.randn(3, 5, 6), torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]]).bool()
    q = attention.split_heads(attention.query(x))
    k, v = (attention.split_heads(t) for t in attention.key_value(x).chunk(2, dim=-1))
    scores = q @ k.transpose(-1, -2) / 2.0  # sqrt(8 / 2 heads)
    allowed = torch.ones(5, 5).tril().bool() & mask[:, None, None, :] | torch.eye(5, dtype=torch.bool)
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
    expected = attention.out((weights @ v).transpose(1, 2).reshape(3, 5, 8))
    torch.testing.assert_close(attention(x, mask), expected)


@pytest.mark.parametrize("block", [
    MultiHeadSelfAttention(4, 8, heads=2, causal=True),
    SelfAttentionBlock(8, heads=2, causal=True),
], ids=["attention", "block"])
def test_causal_output_ignores_later_positions(block):
    torch.manual_seed(0)
    dim = 4 if isinstance(block, MultiHeadSelfAttention) else 8
    x = torch.randn(2, 6, dim)
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 3, dim)
    torch.testing.assert_close(block(x)[:, :3], block(changed)[:, :3])
    assert not torch.allclose(block(x)[:, 3:], block(changed)[:, 3:])


def test_key_padding_hides_padded_positions_and_empty_rows_stay_finite():
    torch.manual_seed(0)
    block = SelfAttentionBlock(8, heads=2)  # not causal: only the mask hides positions
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]]).bool()
    x = torch.randn(2, 5, 8)
    changed = x.clone()
    changed[0, 3:] = torch.randn(2, 8)
    torch.testing.assert_close(block(x, mask)[0, :3], block(changed, mask)[0, :3])
    assert torch.isfinite(block(x, mask)).all()


@pytest.mark.parametrize("causal", [True, False])
def test_last_queries_only_equal_the_full_computation(causal):
    torch.manual_seed(0)
    block = SelfAttentionBlock(8, heads=2, causal=causal)
    x, mask = torch.randn(3, 6, 8), torch.tensor([[0, 0, 1, 1, 1, 1], [1] * 6, [0] * 6]).bool()
    torch.testing.assert_close(block(x, mask, n_queries=2), block(x, mask)[:, -2:])
    torch.testing.assert_close(block(x, n_queries=1), block(x)[:, -1:])


# --- CrossNetworkV2 ----------------------------------------------------------------------------


def test_cross_network_follows_equation_1():
    torch.manual_seed(0)
    cross = CrossNetworkV2(dim=5, layers=2)
    x0 = torch.randn(3, 5)
    x1 = x0 * (x0 @ cross.layers[0].weight.T + cross.layers[0].bias) + x0
    x2 = x0 * (x1 @ cross.layers[1].weight.T + cross.layers[1].bias) + x1
    torch.testing.assert_close(cross(x0), x2)
    assert CrossNetworkV2(dim=5, layers=0)(x0) is x0 and cross.output_dim == 5


# --- field embeddings (DeepFM, AutoInt, DCNv2) -------------------------------------------------


def test_field_embeddings_pool_the_history_as_extra_fields(synth):
    model = build("deepfm", synth)
    batch = some_batch(synth, model, n=4)
    fields = model.field_embeddings(batch)
    assert fields.shape == (4, model.n_fields, model.config.embed_dim)
    n_direct = batch.user.shape[1] + batch.item.shape[1]
    torch.testing.assert_close(fields[:, : batch.user.shape[1]], model.embedding(batch.user))
    rating_mean = masked_mean(model.embedding(batch.hist_rating), batch.hist_mask)
    torch.testing.assert_close(fields[:, -1], rating_mean)
    assert fields.shape[1] == n_direct + batch.hist_item.shape[2] + 1
    first_order = model.field_embeddings(batch, model.first_order.weight)
    assert first_order.shape == (4, model.n_fields, 1)


def test_the_pooled_lookup_equals_gathering_the_window_then_masking(synth):
    model = build("deepfm", synth)
    batch = with_empty_history(some_batch(synth, model, n=16), slice(0, 3))
    history = torch.cat([batch.hist_item, batch.hist_rating.unsqueeze(-1)], dim=-1)
    weight = model.embedding.weight
    expected = masked_mean(model.embedding(history), batch.hist_mask)
    torch.testing.assert_close(masked_mean_lookup(weight, history, batch.hist_mask), expected, rtol=1e-6, atol=1e-7)
    # the gradient reaching the table is the same as the gather's
    (grad_new,) = torch.autograd.grad(masked_mean_lookup(weight, history, batch.hist_mask).square().sum(), weight)
    (grad_old,) = torch.autograd.grad(masked_mean(model.embedding(history), batch.hist_mask).square().sum(), weight)
    torch.testing.assert_close(grad_new, grad_old, rtol=1e-5, atol=1e-8)
    assert masked_mean_lookup(weight, history[:, :0], batch.hist_mask[:, :0]).abs().sum() == 0  # no history at all


def test_deepfm_single_lookup_equals_its_two_lookup_formula(synth):
    model = build("deepfm", synth).eval()
    torch.nn.init.normal_(model.first_order.weight, std=0.1)  # zeros at init would hide a mix-up
    batch = some_batch(synth, model, n=8)
    history = torch.cat([batch.hist_item, batch.hist_rating.unsqueeze(-1)], dim=-1)
    ids = torch.cat([batch.user, batch.item], dim=1)

    def fields(table):
        return torch.cat([table(ids), masked_mean(table(history), batch.hist_mask)], dim=1)

    vectors, weights = fields(model.embedding), fields(model.first_order).squeeze(-1)
    fm = weights.sum(1) + 0.5 * (vectors.sum(1).pow(2) - vectors.pow(2).sum(1)).sum(1)
    expected = model.bias + fm + model.out(model.dnn(vectors.flatten(1))).squeeze(-1)
    torch.testing.assert_close(model(batch).logit, expected, rtol=1e-6, atol=1e-6)


# --- sequence models: padding and empty histories ----------------------------------------------


def test_gru4rec_state_equals_the_packed_sequence(synth):
    model = build("gru4rec", synth, gru_layers=2, dropout=0.0).eval()
    batch = with_empty_history(some_batch(synth, model), slice(0, 2))
    lengths = batch.hist_len
    _, behaviours = model.embed_behaviours(batch)
    packed = pack_padded_sequence(behaviours[2:], lengths[2:], batch_first=True, enforce_sorted=False)
    _, state = model.gru(packed)
    encoded = model.encode_history(batch)
    torch.testing.assert_close(encoded[2:], state[-1])
    assert torch.equal(encoded[:2], torch.zeros_like(encoded[:2]))


@pytest.mark.parametrize("name", SEQUENCE_MODELS)
def test_padded_behaviours_do_not_matter(name, synth):
    model = build(name, synth).eval()
    batch = some_batch(synth, model)
    assert (~batch.hist_mask).any()  # the synth rows have short histories
    noisy = dataclasses.replace(
        batch,
        hist_item=torch.where(batch.hist_mask.unsqueeze(-1), batch.hist_item, batch.item.unsqueeze(1)),
        hist_rating=torch.where(batch.hist_mask, batch.hist_rating, batch.hist_rating.max()),
    )
    torch.testing.assert_close(model(batch).logit, model(noisy).logit)


@pytest.mark.parametrize("name", SEQUENCE_MODELS + FIELD_MODELS)
def test_empty_history_gives_finite_outputs_and_gradients(name, synth):
    model = build(name, synth)
    batch = with_empty_history(some_batch(synth, model), slice(0, 3))
    output = model(batch)
    assert torch.isfinite(output.logit).all() and torch.isfinite(output.representation).all()
    output.logit.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_sasrec_equals_attention_over_the_valid_behaviours_only(synth):
    model = build("sasrec", synth, layers=2, heads=2, dropout=0.0).eval()
    batch = some_batch(synth, model)
    encoded = model.encode_history(batch)
    _, behaviours = model.embed_behaviours(batch, newest_last=True)
    length = behaviours.shape[1]
    for row, n in enumerate(batch.hist_len.tolist()):
        positions = torch.arange(length - n, length)
        x = model.project(behaviours[row : row + 1, length - n :]) + model.position(positions)
        for block in model.blocks:
            x = block(x)  # causal, no padding at all
        torch.testing.assert_close(encoded[row], model.norm(x[0, -1]))


def test_caser_pools_only_windows_inside_the_history(synth):
    model = build("caser", synth, horizontal_heights=(1, 3, 8), dropout=0.0).eval()
    batch = some_batch(synth, model)
    _, behaviours = model.embed_behaviours(batch, newest_last=True)
    pooled = model.convolve(behaviours, batch.hist_len)
    length, n_h = behaviours.shape[1], model.config.horizontal_filters
    for row, n in enumerate(batch.hist_len.tolist()):
        valid = behaviours[row, length - n :].T.unsqueeze(0)  # [1, d, n]
        for i, (h, conv) in enumerate(zip(model.config.horizontal_heights, model.horizontal)):
            expected = torch.relu(conv(valid)).amax(-1)[0] if n >= h else torch.zeros(n_h)
            torch.testing.assert_close(pooled[row, i * n_h : (i + 1) * n_h], expected)


def test_caser_horizontal_features_equal_conv1d():
    from baselines.caser import Caser, CaserConfig
    from recbench.ctr import FeatureSchema

    torch.manual_seed(0)
    model = Caser(CaserConfig(history_length=12, horizontal_heights=(1, 3, 5)), FeatureSchema(50, 2, 3))
    behaviours = torch.randn(4, 12, model.behaviour_dim)
    for conv, fast in zip(model.horizontal, model.horizontal_features(behaviours)):
        torch.testing.assert_close(fast, conv(behaviours.transpose(1, 2)).transpose(1, 2), rtol=1e-4, atol=1e-5)
