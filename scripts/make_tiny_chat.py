#!/usr/bin/env python3
"""Writes the demo chat model and its conversations: configs/models/tiny-chat/ (a Qwen2-shaped
model of 1.7M parameters with a byte-level BPE tokenizer trained on the vim manual, ChatML
special tokens and a ChatML chat template, no weights: zerod initialises them) and
data/chats/{train,eval}.jsonl (seeded arithmetic and vim-command conversations in the
"messages" format). What the README's fine-tuning walk and tests/e2e/finetune_e2e_test.sh
use. Deterministic; the files are committed. Run with .venv/bin/python.
"""
import json
import os
import random

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "configs", "models", "tiny-chat")
DATA = os.path.join(ROOT, "data", "chats")
CORPUS = os.path.join(ROOT, "data", "corpus", "vim_user_manual.txt")

# ChatML, written here: a system turn when given, each message between <|im_start|>ROLE and
# <|im_end|>, and the assistant's header as the generation prompt.
TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")

COMMANDS = {
    "save the file": ":w", "quit": ":q", "save and quit": ":wq", "quit without saving": ":q!",
    "delete a line": "dd", "copy a line": "yy", "paste after the cursor": "p", "undo": "u",
    "redo": "CTRL-R", "go to the end of the file": "G", "go to the first line": "gg",
    "search forward for a word": "/word", "insert before the cursor": "i",
    "append after the cursor": "a", "open a line below": "o", "delete a word": "dw",
}


def tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    with open(CORPUS, encoding="utf-8") as f:
        lines = f.read().splitlines()
    trainer = trainers.BpeTrainer(vocab_size=1000, show_progress=False,
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    return tok


def conversation(rng):
    messages = []
    if rng.random() < 0.3:
        messages.append({"role": "system", "content": "You are a terse assistant."})
    for _ in range(rng.choice([1, 1, 2])):
        if rng.random() < 0.5:
            a, b = rng.randint(0, 49), rng.randint(0, 49)
            messages += [{"role": "user", "content": f"What is {a} + {b}?"},
                         {"role": "assistant", "content": f"{a} + {b} = {a + b}."}]
        else:
            what = rng.choice(sorted(COMMANDS))
            messages += [{"role": "user", "content": f"In Vim, how do I {what}?"},
                         {"role": "assistant", "content": f"Type {COMMANDS[what]} to {what}."}]
    return {"messages": messages}


def main():
    os.makedirs(MODEL, exist_ok=True)
    os.makedirs(DATA, exist_ok=True)
    tok = tokenizer()
    tok.save(os.path.join(MODEL, "tokenizer.json"))
    vocab = tok.get_vocab_size()
    config = {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": vocab,
        "hidden_size": 128, "intermediate_size": 352, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "initializer_range": 0.02,
        "hidden_act": "silu", "tie_word_embeddings": True, "torch_dtype": "float32",
        "use_sliding_window": False, "bos_token_id": None,
        "eos_token_id": tok.token_to_id("<|im_end|>"),
        "pad_token_id": tok.token_to_id("<|endoftext|>"),
    }
    with open(os.path.join(MODEL, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": None,
        "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "model_max_length": 512,
        "chat_template": TEMPLATE,
    }
    with open(os.path.join(MODEL, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config, f, indent=2)
    rng = random.Random(2026)
    for name, count in (("train", 600), ("eval", 40)):
        with open(os.path.join(DATA, f"{name}.jsonl"), "w") as f:
            for _ in range(count):
                f.write(json.dumps(conversation(rng)) + "\n")
    print(f"vocab {vocab}; {MODEL}; {DATA}")


if __name__ == "__main__":
    main()
