"""RecLoRA's personalized LoRA layers on a tiny random Llama: equivalence with plain LoRA at
N_m = 1, a zero update at B = 0, what trains, per-user gating, the two mixing rules,
save / load, dtypes and the errors users can cause."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from recbench.errors import RecbenchError
from reclora.adapter import PersonalizedAdapter, inject_personalized_lora, read_adapter_config
from reclora.config import PersonalizedLoRAConfig
from reclora.layer import ConditionSlot, PersonalizedLoRALinear

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

D_C = 12  # a small condition size keeps the gates cheap; the default 256 is tested in the config tests


def tiny_llama(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return transformers.LlamaForCausalLM(config).eval()


def make_config(**overrides) -> PersonalizedLoRAConfig:
    return PersonalizedLoRAConfig(**{"n_meta": 4, "condition_dim": D_C, **overrides})


def make_inputs(batch: int = 3, length: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 128, (batch, length), generator=generator)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[0, :2] = 0  # one left-padded prompt, as batched scoring produces
    return input_ids, mask


def conditions(batch: int = 3, seed: int = 2) -> torch.Tensor:
    return torch.randn(batch, D_C, generator=torch.Generator().manual_seed(seed))


def randomize_b(adapter: PersonalizedAdapter, seed: int = 3) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in adapter.layers.values():
            layer.meta_B.copy_(torch.randn(layer.meta_B.shape, generator=generator) * 0.2)


def logits_of(model: nn.Module, adapter: PersonalizedAdapter | None, rc: torch.Tensor | None = None) -> torch.Tensor:
    input_ids, mask = make_inputs()
    with torch.no_grad():
        if adapter is None:
            return model(input_ids=input_ids, attention_mask=mask).logits
        with adapter.condition(conditions() if rc is None else rc):
            return model(input_ids=input_ids, attention_mask=mask).logits


def inject(model: nn.Module, seed: int = 5, **overrides) -> PersonalizedAdapter:
    torch.manual_seed(seed)
    adapter = inject_personalized_lora(model, make_config(**overrides))
    model.eval()
    return adapter


# (a) N_m = 1 is plain LoRA ------------------------------------------------------------------


@pytest.mark.parametrize("mixing", ["factors", "products"])
def test_single_meta_lora_equals_peft_lora(mixing: str) -> None:
    base = tiny_llama()
    ours = copy.deepcopy(base)
    adapter = inject(ours, n_meta=1, mixing=mixing)
    randomize_b(adapter)
    theirs = peft.get_peft_model(
        copy.deepcopy(base),
        peft.LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0),
    ).eval()
    copied = 0
    for name, module in theirs.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            layer = adapter.layers[name.split("base_model.model.", 1)[1]]
            with torch.no_grad():
                module.lora_A["default"].weight.copy_(layer.meta_A[0].T)  # peft: [r, d_in]
                module.lora_B["default"].weight.copy_(layer.meta_B[0])  # peft: [d_out, r]
            copied += 1
    assert copied == len(adapter.layers) == 4
    expected = logits_of(theirs, None)
    got = logits_of(ours, adapter)
    assert not torch.allclose(expected, logits_of(base, None), atol=1e-4)  # the LoRA update is not trivial
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_meta_a_uses_loras_kaiming_bound() -> None:
    adapter = inject(tiny_llama())
    layer = adapter.layers["model.layers.0.self_attn.q_proj"]
    bound = 1.0 / layer.in_features**0.5
    assert layer.meta_A.abs().max() <= bound
    assert layer.meta_A.abs().max() > 0.8 * bound
    assert torch.count_nonzero(layer.meta_B) == 0


# (b) B = 0 leaves the backbone unchanged ----------------------------------------------------


def test_zero_b_leaves_logits_unchanged() -> None:
    base = tiny_llama()
    model = copy.deepcopy(base)
    adapter = inject(model)
    assert torch.equal(logits_of(model, adapter), logits_of(base, None))


# (c) only meta-LoRAs and gates train --------------------------------------------------------


def test_only_meta_loras_and_gates_train() -> None:
    model = tiny_llama()
    adapter = inject(model)
    model.train()
    base_before = {
        n: p.detach().clone() for n, p in model.named_parameters() if ".meta_" not in n and ".gate." not in n
    }
    trainable = dict(adapter.named_trainable_parameters())
    assert {n for n, p in model.named_parameters() if p.requires_grad} == set(trainable)
    assert all(n.endswith(("meta_A", "meta_B")) or ".gate." in n for n in trainable)
    per_layer = lambda d_in, d_out: 4 * (d_in + d_out) * 8 + (2 * D_C + D_C * 60 + 60 + 60 * 4 + 4)  # noqa: E731
    assert adapter.num_trainable_parameters() == 2 * (per_layer(32, 32) + per_layer(32, 16))

    optimizer = torch.optim.AdamW(adapter.trainable_parameters(), lr=1e-2)
    input_ids, mask = make_inputs()
    for step in range(2):
        optimizer.zero_grad()
        with adapter.condition(conditions()):
            logits = model(input_ids=input_ids, attention_mask=mask).logits[:, -1]
        loss = nn.functional.cross_entropy(logits, torch.tensor([1, 2, 3]))
        loss.backward()
        optimizer.step()
        if step == 0:  # B = 0: only B receives a non-zero gradient, but every factor has one
            assert all(p.grad is not None for p in trainable.values())
    # After B moved, A and the gates get non-zero gradients too.
    for name, parameter in trainable.items():
        assert parameter.grad is not None and torch.count_nonzero(parameter.grad) > 0, name
    for name, parameter in model.named_parameters():
        if name in base_before:
            assert parameter.grad is None, name
            assert torch.equal(parameter, base_before[name]), name
    assert all(torch.count_nonzero(layer.meta_B) > 0 for layer in adapter.layers.values())


# (d) each user gets their own mixture --------------------------------------------------------


def test_gate_weights_differ_across_users() -> None:
    adapter = inject(tiny_llama())
    rc = conditions(batch=4)
    for layer in adapter.layers.values():
        w = layer.gate_weights(rc)
        assert w.shape == (4, 4)
        torch.testing.assert_close(w.sum(-1), torch.ones(4))
        assert all(not torch.allclose(w[i], w[j]) for i in range(4) for j in range(i + 1, 4))
    # A higher temperature flattens the mixture towards uniform.
    sharp = inject(tiny_llama(), temperature=0.5).layers["model.layers.0.self_attn.q_proj"].gate_weights(rc)
    flat = inject(tiny_llama(), temperature=50.0).layers["model.layers.0.self_attn.q_proj"].gate_weights(rc)
    assert (flat - 0.25).abs().max() < (sharp - 0.25).abs().max()


def test_each_sample_is_personalized_independently() -> None:
    model = tiny_llama()
    adapter = inject(model)
    randomize_b(adapter)
    input_ids = make_inputs()[0][:1].repeat(3, 1)
    rc = conditions()
    rc[2] = rc[0]
    with torch.no_grad(), adapter.condition(rc):
        batch = model(input_ids=input_ids).logits
    assert torch.allclose(batch[0], batch[2], atol=1e-6)
    assert not torch.allclose(batch[0], batch[1], atol=1e-4)
    with torch.no_grad(), adapter.condition(rc[1:2]):
        alone = model(input_ids=input_ids[1:2]).logits
    torch.testing.assert_close(alone[0], batch[1], rtol=1e-5, atol=1e-5)


# (e) save / load ------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path) -> None:
    base = tiny_llama()
    trained_model = copy.deepcopy(base)
    trained = inject(trained_model, seed=5)
    randomize_b(trained)
    with torch.no_grad():
        for layer in trained.layers.values():
            layer.gate.out.bias.normal_()
    path = trained.save_adapter(tmp_path / "sub" / "adapter.safetensors")
    assert read_adapter_config(path) == trained.config

    fresh_model = copy.deepcopy(base)
    fresh = inject(fresh_model, seed=99)
    assert not torch.equal(logits_of(fresh_model, fresh), logits_of(trained_model, trained))
    fresh.load_adapter(path)
    assert torch.equal(logits_of(fresh_model, fresh), logits_of(trained_model, trained))


def test_load_refuses_other_config_or_shapes(tmp_path) -> None:
    adapter = inject(tiny_llama())
    path = adapter.save_adapter(tmp_path / "a.safetensors")
    with pytest.raises(RecbenchError, match=r"n_meta=4 \(model: 2\)"):
        inject(tiny_llama(), n_meta=2).load_adapter(path)
    with pytest.raises(RecbenchError, match="different config: temperature"):
        inject(tiny_llama(), temperature=1.0).load_adapter(path)

    wider = transformers.LlamaForCausalLM(
        transformers.LlamaConfig(
            vocab_size=128, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2,
        )
    )
    with pytest.raises(RecbenchError, match=r"meta_A has shape \[4, 32, 8\], the model expects \[4, 48, 8\]"):
        inject(wider).load_adapter(path)
    deeper = transformers.LlamaForCausalLM(
        transformers.LlamaConfig(
            vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2,
        )
    )
    with pytest.raises(RecbenchError, match="missing model.layers.2"):
        inject(deeper).load_adapter(path)


def test_load_refuses_foreign_files(tmp_path) -> None:
    from safetensors.torch import save_file

    adapter = inject(tiny_llama())
    with pytest.raises(RecbenchError, match="does not exist"):
        adapter.load_adapter(tmp_path / "nothing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(RecbenchError, match="is not a safetensors file"):
        adapter.load_adapter(tmp_path / "junk.safetensors")
    save_file({"x": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(RecbenchError, match="is not a RecLoRA adapter file"):
        adapter.load_adapter(tmp_path / "plain.safetensors")


# (f) the two mixing rules -----------------------------------------------------------------------


def test_factors_and_products_agree_only_for_one_meta_lora() -> None:
    def run(n_meta: int, mixing: str) -> torch.Tensor:
        model = tiny_llama()
        adapter = inject(model, seed=5, n_meta=n_meta, mixing=mixing)
        randomize_b(adapter)
        return logits_of(model, adapter)

    torch.testing.assert_close(run(1, "factors"), run(1, "products"), rtol=1e-5, atol=1e-5)
    assert (run(4, "factors") - run(4, "products")).abs().max() > 1e-3


def test_products_matches_an_explicit_sum_of_updates() -> None:
    torch.manual_seed(0)
    config = make_config(mixing="products", n_meta=3)
    slot = ConditionSlot(D_C)
    layer = PersonalizedLoRALinear(nn.Linear(6, 5), config, slot).eval()
    with torch.no_grad():
        layer.meta_B.normal_()
    x, rc = torch.randn(2, 4, 6), conditions(batch=2)
    w = layer.gate_weights(rc)
    for mixing in ("products", "factors"):
        layer.mixing = mixing
        with torch.no_grad(), slot.bind(rc):
            got = layer(x)
        for i in range(2):
            if mixing == "products":
                update = sum(w[i, k] * layer.meta_A[k] @ layer.meta_B[k].T for k in range(3))
            else:
                a_u = sum(w[i, k] * layer.meta_A[k] for k in range(3))
                b_u = sum(w[i, k] * layer.meta_B[k] for k in range(3))
                update = a_u @ b_u.T
            expected = layer.base(x[i]) + config.scaling * x[i] @ update
            torch.testing.assert_close(got[i], expected.detach(), rtol=1e-5, atol=1e-5)


# dtypes --------------------------------------------------------------------------------------------


def test_half_precision_backbone_keeps_its_dtype() -> None:
    model = tiny_llama().to(torch.bfloat16)
    adapter = inject(model)
    randomize_b(adapter)
    layer = adapter.layers["model.layers.0.self_attn.v_proj"]
    assert layer.meta_A.dtype == torch.bfloat16 and layer.gate.hidden.weight.dtype == torch.bfloat16
    assert logits_of(model, adapter).dtype == torch.bfloat16


class Int8Linear(nn.Module):
    """Stands in for a quantised linear: int8 weight, logical in/out features, float output."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.scale = linear.weight.abs().max() / 127
        self.weight = nn.Parameter((linear.weight / self.scale).round().to(torch.int8), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() @ (self.weight.float() * self.scale).T).to(torch.float16)


def test_quantized_base_computes_the_update_in_float32() -> None:
    torch.manual_seed(0)
    slot = ConditionSlot(D_C)
    layer = PersonalizedLoRALinear(Int8Linear(nn.Linear(8, 6)), make_config(), slot)
    assert layer.meta_A.dtype == torch.float32 and layer.gate.out.weight.dtype == torch.float32
    with torch.no_grad():
        layer.meta_B.normal_()
    with slot.bind(conditions(batch=2)):
        out = layer(torch.randn(2, 3, 8, dtype=torch.float16))
    assert out.dtype == torch.float16
    out.float().sum().backward()
    assert layer.meta_A.grad is not None and layer.weight.grad is None


# (g) errors users can cause -----------------------------------------------------------------------


def test_model_without_targets_names_its_linear_modules() -> None:
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=64))
    with pytest.raises(RecbenchError, match=r"no module named q_proj or v_proj; .*c_attn, c_fc, c_proj, lm_head"):
        inject_personalized_lora(gpt2, make_config())
    with pytest.raises(RecbenchError, match="'model.layers.0.self_attn' is a LlamaAttention, not a linear layer"):
        inject_personalized_lora(tiny_llama(), make_config(target_modules=["self_attn"]))


def test_injecting_twice_is_refused() -> None:
    model = tiny_llama()
    inject(model)
    with pytest.raises(RecbenchError, match="already has personalized LoRA layers"):
        inject(model)


def test_condition_errors() -> None:
    model = tiny_llama()
    adapter = inject(model)
    input_ids, mask = make_inputs()
    with pytest.raises(RecbenchError, match=r"'model.layers.0.self_attn.q_proj' ran without a condition"):
        model(input_ids=input_ids, attention_mask=mask)
    with pytest.raises(RecbenchError, match="got a batch of 3 but the condition has 2 rows"):
        with adapter.condition(conditions(batch=2)):
            model(input_ids=input_ids, attention_mask=mask)
    with pytest.raises(RecbenchError, match=rf"shape \[batch, {D_C}\], got \[3, 5\]"):
        with adapter.condition(torch.zeros(3, 5)):
            pass
    with pytest.raises(RecbenchError, match="floating-point"):
        with adapter.condition(torch.zeros(3, D_C, dtype=torch.long)):
            pass
    # The slot is cleared again after a block, even one left by an exception.
    assert adapter.slot.value is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_meta": 0}, "n_meta must be a positive integer"),
        ({"rank": 2.5}, "rank must be a positive integer"),
        ({"gate_hidden": True}, "gate_hidden must be a positive integer"),
        ({"alpha": 0}, "alpha must be a positive number"),
        ({"temperature": -1.0}, "temperature must be a positive number"),
        ({"dropout": 1.0}, r"dropout must be a probability in \[0, 1\)"),
        ({"gate_dropout": -0.1}, "gate_dropout must be a probability"),
        ({"mixing": "sum"}, "mixing must be one of factors, products, got 'sum'"),
        ({"target_modules": "q_proj"}, "target_modules must be a list"),
        ({"target_modules": ()}, "target_modules must be a non-empty list"),
        ({"condition_dim": 0}, "condition_dim must be a positive integer"),
    ],
)
def test_bad_config_values(overrides: dict, message: str) -> None:
    with pytest.raises(RecbenchError, match=message):
        PersonalizedLoRAConfig(**overrides)


def test_config_defaults_and_dict_round_trip() -> None:
    config = PersonalizedLoRAConfig()
    assert (config.n_meta, config.rank, config.alpha, config.condition_dim) == (16, 8, 16.0, 256)
    assert config.target_modules == ("q_proj", "v_proj") and config.mixing == "factors"
    assert PersonalizedLoRAConfig(target_modules=["q_proj"]).target_modules == ("q_proj",)
    assert PersonalizedLoRAConfig.from_dict(config.to_dict()) == config
    with pytest.raises(RecbenchError, match="unknown personalized LoRA config keys: experts"):
        PersonalizedLoRAConfig.from_dict({**config.to_dict(), "experts": 3})
