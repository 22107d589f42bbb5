#!/usr/bin/env python3
"""Writes a dsmserve (HuggingFace LLaMA, bf16 safetensors) model as a GGUF file for
llama.cpp, so both engines run the very same weights in benchmarks/llamacpp/run.sh.

Standard library only (this machine has no numpy). Weights stay bf16, byte for byte,
except what llama.cpp's own converter changes too: the q/k rows are reordered from
HuggingFace's rotate-half RoPE to llama.cpp's interleaved pairs, and the 1-D norm
weights are widened to f32 (exactly).

  to_gguf.py MODEL_DIR TOKENIZER_JSON OUT.gguf
"""
import json
import mmap
import os
import struct
import sys

GGUF_VERSION = 3
ALIGNMENT = 32
TYPE_UINT32, TYPE_INT32, TYPE_FLOAT32, TYPE_STRING, TYPE_ARRAY = 4, 5, 6, 8, 9
GGML_F32, GGML_BF16 = 0, 30
FILE_TYPE_MOSTLY_BF16 = 32
TOKEN_NORMAL, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED = 1, 3, 4, 5


def gguf_string(text):
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


class Metadata:
    """GGUF key/value pairs, already serialised."""

    def __init__(self):
        self.count = 0
        self.blob = bytearray()

    def _key(self, key, value_type):
        self.count += 1
        self.blob += gguf_string(key) + struct.pack("<I", value_type)

    def string(self, key, value):
        self._key(key, TYPE_STRING)
        self.blob += gguf_string(value)

    def uint32(self, key, value):
        self._key(key, TYPE_UINT32)
        self.blob += struct.pack("<I", value)

    def float32(self, key, value):
        self._key(key, TYPE_FLOAT32)
        self.blob += struct.pack("<f", value)

    def strings(self, key, values):
        self._key(key, TYPE_ARRAY)
        self.blob += struct.pack("<IQ", TYPE_STRING, len(values))
        for value in values:
            self.blob += gguf_string(value)

    def int32s(self, key, values):
        self._key(key, TYPE_ARRAY)
        self.blob += struct.pack("<IQ", TYPE_INT32, len(values))
        self.blob += struct.pack("<%di" % len(values), *values)


def read_safetensors(path):
    handle = open(path, "rb")
    raw = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    header.pop("__metadata__", None)
    return raw, 8 + header_len, header


def gguf_name(hf_name):
    fixed = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    if hf_name in fixed:
        return fixed[hf_name]
    parts = hf_name.split(".")  # model.layers.N.<module>.<proj>.weight
    if parts[:2] != ["model", "layers"]:
        raise ValueError("unexpected tensor " + hf_name)
    per_layer = {
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
    }
    module = ".".join(parts[3:-1])
    if module not in per_layer:
        raise ValueError("unexpected tensor " + hf_name)
    return "blk.%s.%s.weight" % (parts[2], per_layer[module])


def interleave_rope_rows(data, rows, row_bytes, heads):
    """Row order of llama.cpp's interleaved RoPE: row 2i+j of a head = HF row j*half+i."""
    head_dim = rows // heads
    half = head_dim // 2
    out = bytearray(len(data))
    for head in range(heads):
        base = head * head_dim
        for i in range(half):
            for j in range(2):
                src = (base + j * half + i) * row_bytes
                dst = (base + 2 * i + j) * row_bytes
                out[dst : dst + row_bytes] = data[src : src + row_bytes]
    return bytes(out)


def bf16_to_f32(data):
    out = bytearray(len(data) * 2)
    out[2::4] = data[0::2]
    out[3::4] = data[1::2]
    return bytes(out)


def vocabulary(tokenizer_path, vocab_size):
    tokenizer = json.load(open(tokenizer_path, encoding="utf-8"))
    model = tokenizer["model"]
    if model.get("type") != "BPE":
        raise ValueError("only byte-level BPE tokenizers are supported")
    tokens = ["[PAD%d]" % i for i in range(vocab_size)]
    types = [TOKEN_UNUSED] * vocab_size
    for text, token_id in model["vocab"].items():
        if token_id < vocab_size:
            tokens[token_id], types[token_id] = text, TOKEN_NORMAL
    special = {}
    for added in tokenizer.get("added_tokens", []):
        if added["id"] < vocab_size:
            tokens[added["id"]] = added["content"]
            types[added["id"]] = TOKEN_CONTROL if added["special"] else TOKEN_USER_DEFINED
            special[added["content"]] = added["id"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return tokens, types, merges, special


def main(model_dir, tokenizer_path, out_path):
    config = json.load(open(os.path.join(model_dir, "config.json")))
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    hidden = config["hidden_size"]
    raw, data_start, header = read_safetensors(os.path.join(model_dir, "model.safetensors"))

    meta = Metadata()
    meta.string("general.architecture", "llama")
    meta.string("general.name", os.path.basename(os.path.normpath(model_dir)))
    meta.uint32("general.file_type", FILE_TYPE_MOSTLY_BF16)
    meta.uint32("general.alignment", ALIGNMENT)
    meta.uint32("llama.context_length", config.get("max_position_embeddings", 4096))
    meta.uint32("llama.embedding_length", hidden)
    meta.uint32("llama.block_count", config["num_hidden_layers"])
    meta.uint32("llama.feed_forward_length", config["intermediate_size"])
    meta.uint32("llama.rope.dimension_count", hidden // heads)
    meta.uint32("llama.attention.head_count", heads)
    meta.uint32("llama.attention.head_count_kv", kv_heads)
    meta.uint32("llama.vocab_size", config["vocab_size"])
    meta.float32("llama.attention.layer_norm_rms_epsilon", config.get("rms_norm_eps", 1e-6))
    meta.float32("llama.rope.freq_base", config.get("rope_theta", 10000.0))
    tokens, types, merges, special = vocabulary(tokenizer_path, config["vocab_size"])
    meta.string("tokenizer.ggml.model", "gpt2")
    meta.string("tokenizer.ggml.pre", "deepseek-llm")
    meta.strings("tokenizer.ggml.tokens", tokens)
    meta.int32s("tokenizer.ggml.token_type", types)
    meta.strings("tokenizer.ggml.merges", merges)
    for role, text in (("bos", "<｜begin▁of▁sentence｜>"), ("eos", "<｜end▁of▁sentence｜>")):
        if text in special:
            meta.uint32("tokenizer.ggml.%s_token_id" % role, special[text])

    tensors = []  # (gguf name, ggml type, ne, hf name, bytes out)
    for hf_name in sorted(header):
        info = header[hf_name]
        if info["dtype"] != "BF16":
            raise ValueError("%s is %s; only bf16 checkpoints are converted" % (hf_name, info["dtype"]))
        shape = info["shape"]
        if len(shape) == 1:
            tensors.append((gguf_name(hf_name), GGML_F32, [shape[0]], hf_name, shape[0] * 4))
        else:
            tensors.append((gguf_name(hf_name), GGML_BF16, [shape[1], shape[0]], hf_name, shape[0] * shape[1] * 2))

    infos = bytearray()
    offset = 0
    for name, ggml_type, ne, _, size in tensors:
        infos += gguf_string(name) + struct.pack("<I", len(ne))
        infos += struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", ggml_type, offset)
        offset += (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT

    with open(out_path, "wb") as out:
        out.write(b"GGUF" + struct.pack("<IQQ", GGUF_VERSION, len(tensors), meta.count))
        out.write(meta.blob)
        out.write(infos)
        out.write(b"\0" * (-out.tell() % ALIGNMENT))
        for name, ggml_type, ne, hf_name, size in tensors:
            begin, end = header[hf_name]["data_offsets"]
            data = raw[data_start + begin : data_start + end]
            if ggml_type == GGML_F32:
                data = bf16_to_f32(data)
            elif name.endswith(("attn_q.weight", "attn_k.weight")):
                rope_heads = heads if name.endswith("attn_q.weight") else kv_heads
                data = interleave_rope_rows(data, ne[1], ne[0] * 2, rope_heads)
            out.write(data)
            out.write(b"\0" * (-size % ALIGNMENT))
    print("wrote %s: %d tensors, %d metadata keys" % (out_path, len(tensors), meta.count))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
