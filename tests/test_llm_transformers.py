"""The transformers back-end with a tiny randomly initialised Llama built in a temp folder (no hub)."""

from __future__ import annotations

import pytest

from synthneg.llm import ChatMessage, ChatRequest, SamplingParams, make_generator

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder = tmp_path_factory.mktemp("tiny-llm")
    words = [
        "the",
        "a",
        "of",
        "graphene",
        "heat",
        "query",
        "passage",
        "is",
        "and",
        "to",
        "in",
        "what",
        "how",
        "why",
        "<|user|>",
        "<|system|>",
        "<|assistant|>",
    ]
    vocab = {"<unk>": 0, "<pad>": 1, "</s>": 2} | {w: i + 3 for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    config = transformers.LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=1,
        eos_token_id=2,
        bos_token_id=2,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def test_transformers_backend_generates_seeded_results(tiny_model):
    gen = make_generator("transformers", str(tiny_model), device="cpu", batch_size=2)
    reqs = [
        ChatRequest((ChatMessage("user", f"what is {w}"),), SamplingParams(max_tokens=6, seed=5))
        for w in ("graphene", "heat", "a passage")
    ]
    seen = []
    res = gen.generate(reqs, on_result=lambda i, r: seen.append(i))
    assert seen == [0, 1, 2]
    for r in res:
        assert r.ok and r.prompt_tokens > 0 and 0 <= r.completion_tokens <= 6
        assert r.finish_reason in ("stop", "length")
    again = gen.generate(reqs)
    assert [r.text for r in again] == [r.text for r in res]
    assert gen.describe()["backend"] == "transformers" and gen.model_id.startswith("transformers:")
