// FamilyReader: the config.json keys several families share (shapes, RoPE in its new and
// legacy forms, layer_types, dropout), read as transformers' config classes read them, and
// ParseDecoderFamily: a family's description applied to one config, then every key left
// unread checked against the harmless lists.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models {
namespace {

using config::JsonReader;

// Keys no family's model reads: token ids, dtype hints, generation and bookkeeping
// settings of PreTrainedConfig, and the implementation choice for attention (the same
// math in every implementation).
constexpr const char* kHarmless[] = {"architectures",
                                     "transformers_version",
                                     "_name_or_path",
                                     "torch_dtype",
                                     "dtype",
                                     "use_cache",
                                     "bos_token_id",
                                     "eos_token_id",
                                     "pad_token_id",
                                     "sep_token_id",
                                     "decoder_start_token_id",
                                     "output_attentions",
                                     "output_hidden_states",
                                     "return_dict",
                                     "tokenizer_class",
                                     "auto_map",
                                     "_attn_implementation",
                                     "_attn_implementation_autoset",
                                     "attn_implementation",
                                     "cache_implementation",
                                     "id2label",
                                     "label2id",
                                     "problem_type",
                                     "finetuning_task",
                                     "prefix",
                                     "task_specific_params",
                                     "torchscript",
                                     "use_bfloat16",
                                     "tf_legacy_loss",
                                     "pruned_heads",
                                     "is_decoder",
                                     "is_encoder_decoder",
                                     "add_cross_attention",
                                     "tie_encoder_decoder",
                                     "chunk_size_feed_forward",
                                     "cross_attention_hidden_size",
                                     "max_length",
                                     "min_length",
                                     "do_sample",
                                     "early_stopping",
                                     "num_beams",
                                     "num_beam_groups",
                                     "diversity_penalty",
                                     "temperature",
                                     "top_k",
                                     "top_p",
                                     "typical_p",
                                     "repetition_penalty",
                                     "length_penalty",
                                     "no_repeat_ngram_size",
                                     "encoder_no_repeat_ngram_size",
                                     "bad_words_ids",
                                     "num_return_sequences",
                                     "output_scores",
                                     "return_dict_in_generate",
                                     "forced_bos_token_id",
                                     "forced_eos_token_id",
                                     "remove_invalid_values",
                                     "exponential_decay_length_penalty",
                                     "suppress_tokens",
                                     "begin_suppress_tokens",
                                     "initializer_range"};

// Keys of transformers' RopeParameters that a RoPE type other than the one given may carry:
// transformers ignores them for that type.
constexpr const char* kRopeKeys[] = {
    "factor",    "low_freq_factor", "high_freq_factor", "attention_factor",
    "beta_fast", "beta_slow",       "mscale",           "mscale_all_dim",
    "truncate",  "short_factor",    "long_factor",      "original_max_position_embeddings"};

struct RopeName {
  const char* name;
  RopeType type;
};
constexpr RopeName kRopeNames[] = {
    {"default", RopeType::kDefault}, {"linear", RopeType::kLinear},
    {"llama3", RopeType::kLlama3},   {"dynamic", RopeType::kDynamic},
    {"yarn", RopeType::kYarn},       {"longrope", RopeType::kLongrope}};

std::string RopeTypeList(const std::vector<RopeType>& types) {
  std::vector<std::string> names;
  for (RopeType t : types) {
    for (const RopeName& n : kRopeNames)
      if (n.type == t) names.push_back(absl::StrCat("\"", n.name, "\""));
  }
  return absl::StrJoin(names, ", ");
}

std::string Shown(const nlohmann::json& v) {
  std::string s = v.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

absl::StatusOr<std::vector<double>> Factors(JsonReader& r, const char* key, size_t want) {
  const nlohmann::json* list = r.Value(key);
  if (list == nullptr) {
    return r.Error(key, absl::StrCat("is missing; longrope needs ", want, " factors"));
  }
  std::vector<double> out;
  if (list->is_array()) {
    for (const auto& x : *list) {
      if (!x.is_number()) break;
      out.push_back(x.get<double>());
    }
  }
  if (!list->is_array() || out.size() != list->size() || out.size() != want) {
    return r.Error(key, absl::StrCat("must be a list of ", want,
                                     " numbers (one per rotated pair), got ", Shown(*list)));
  }
  return out;
}

// The settings of rope.type's RoPE from its object `o`; `original_max` gives the
// pre-training length where the type needs one.
template <typename F>
absl::Status ReadRopeSettings(JsonReader& o, F original_max, RopeConfig& rope) {
  if (rope.type == RopeType::kLinear) {
    ASSIGN_OR_RETURN(rope.factor, o.Number("factor", 1.0, 1e-9));
  } else if (rope.type == RopeType::kDynamic) {
    if (!o.Has("factor")) return o.Error("factor", "is missing; dynamic RoPE needs it");
    ASSIGN_OR_RETURN(rope.factor, o.Number("factor", 1.0, 1e-9));
  } else if (rope.type == RopeType::kLlama3) {
    ASSIGN_OR_RETURN(rope.factor, o.Number("factor", 8.0, 1e-9));
    ASSIGN_OR_RETURN(rope.low_freq_factor, o.Number("low_freq_factor", 1.0, 1e-9));
    ASSIGN_OR_RETURN(rope.high_freq_factor, o.Number("high_freq_factor", 4.0, 1e-9));
    if (rope.high_freq_factor <= rope.low_freq_factor) {
      return o.Error("high_freq_factor",
                     absl::StrCat(rope.high_freq_factor, " must exceed low_freq_factor ",
                                  rope.low_freq_factor));
    }
    ASSIGN_OR_RETURN(rope.original_max_position_embeddings, original_max());
  } else if (rope.type == RopeType::kYarn) {
    if (!o.Has("factor")) return o.Error("factor", "is missing; yarn RoPE needs it");
    ASSIGN_OR_RETURN(rope.factor, o.Number("factor", 1.0, 1e-9));
    ASSIGN_OR_RETURN(rope.attention_factor, o.Number("attention_factor", 0.0, 0.0));
    // transformers: `get("beta_fast") or 32`: a 0 means the default.
    ASSIGN_OR_RETURN(rope.beta_fast, o.Number("beta_fast", 32.0));
    ASSIGN_OR_RETURN(rope.beta_slow, o.Number("beta_slow", 1.0));
    if (rope.beta_fast == 0.0) rope.beta_fast = 32.0;
    if (rope.beta_slow == 0.0) rope.beta_slow = 1.0;
    ASSIGN_OR_RETURN(rope.mscale, o.Number("mscale", 0.0));
    ASSIGN_OR_RETURN(rope.mscale_all_dim, o.Number("mscale_all_dim", 0.0));
    ASSIGN_OR_RETURN(rope.truncate, o.Bool("truncate", true));
    ASSIGN_OR_RETURN(rope.original_max_position_embeddings, original_max());
  } else if (rope.type == RopeType::kLongrope) {
    ASSIGN_OR_RETURN(rope.factor, o.Number("factor", 0.0, 0.0));
    ASSIGN_OR_RETURN(rope.attention_factor, o.Number("attention_factor", 0.0, 0.0));
    ASSIGN_OR_RETURN(rope.original_max_position_embeddings, original_max());
  }
  return absl::OkStatus();
}

}  // namespace

bool FamilyReader::Present(const char* key) const {
  return json_.contains(key) && !json_[key].is_null();
}

config::JsonReader FamilyReader::Nested(const nlohmann::json& object, const std::string& key,
                                        const std::string& sub) const {
  return JsonReader(object, source_, r_.PathOf(key) + "." + sub);
}

absl::Status FamilyReader::Shapes(const FamilyDefaults& d, DecoderConfig& c) {
  JsonReader& r = r_;
  ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size", d.vocab_size, 1));
  ASSIGN_OR_RETURN(c.hidden_size, r.Int("hidden_size", d.hidden_size, 1));
  ASSIGN_OR_RETURN(c.intermediate_size, r.Int("intermediate_size", d.intermediate_size, 1));
  ASSIGN_OR_RETURN(c.num_hidden_layers, r.Int("num_hidden_layers", d.num_hidden_layers, 1));
  ASSIGN_OR_RETURN(c.num_attention_heads, r.Int("num_attention_heads", d.num_attention_heads, 1));
  const int64_t kv = d.num_key_value_heads > 0 ? d.num_key_value_heads : c.num_attention_heads;
  ASSIGN_OR_RETURN(c.num_key_value_heads,
                   r.Int("num_key_value_heads", kv, 1, c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return r.Error("num_key_value_heads",
                   absl::StrCat(c.num_key_value_heads, " does not divide num_attention_heads ",
                                c.num_attention_heads));
  }
  if (!Present("head_dim") && d.head_dim == 0 && c.hidden_size % c.num_attention_heads != 0) {
    return r.Error("hidden_size",
                   absl::StrCat(c.hidden_size, " is not divisible by num_attention_heads ",
                                c.num_attention_heads, "; set head_dim"));
  }
  const int64_t head_dim = d.head_dim > 0 ? d.head_dim : c.hidden_size / c.num_attention_heads;
  ASSIGN_OR_RETURN(c.head_dim, r.Int("head_dim", head_dim, 2));
  if (c.head_dim % 2 != 0)
    return r.Error("head_dim", absl::StrCat(c.head_dim, " must be even (RoPE)"));
  ASSIGN_OR_RETURN(c.max_position_embeddings,
                   r.Int("max_position_embeddings", d.max_position_embeddings, 1));
  ASSIGN_OR_RETURN(c.rms_norm_eps, r.Number("rms_norm_eps", d.rms_norm_eps, 0.0));
  ASSIGN_OR_RETURN(c.initializer_range, r.Number("initializer_range", c.initializer_range, 0.0));
  ASSIGN_OR_RETURN(c.tie_word_embeddings, r.Bool("tie_word_embeddings", d.tie_word_embeddings));
  // The embedding's padding_idx: null means none; negative counts from the end.
  if (json_.contains("pad_token_id") && json_["pad_token_id"].is_null()) {
    r.Ignore({"pad_token_id"});
    c.pad_token_id = -1;
  } else {
    ASSIGN_OR_RETURN(int64_t pad,
                     r.Int("pad_token_id", d.pad_token_id, -c.vocab_size, c.vocab_size - 1));
    c.pad_token_id = pad < 0 && Present("pad_token_id") ? c.vocab_size + pad : pad;
  }
  return absl::OkStatus();
}

absl::Status FamilyReader::AttentionBias(DecoderConfig& c) {
  ASSIGN_OR_RETURN(bool bias, r_.Bool("attention_bias", false));
  c.qkv_bias = c.o_bias = bias;
  return absl::OkStatus();
}

absl::Status FamilyReader::Act(const char* key, const char* def,
                               std::initializer_list<std::pair<const char*, Activation>> accepted,
                               DecoderConfig& c) {
  ASSIGN_OR_RETURN(std::string act, r_.String(key, def));
  std::vector<std::string> names;
  for (const auto& [name, a] : accepted) {
    if (act == name) {
      c.activation = a;
      return absl::OkStatus();
    }
    names.push_back(absl::StrCat("\"", name, "\""));
  }
  return r_.Error(key, absl::StrCat("is \"", act, "\"; zerod implements ", c.architecture, " with ",
                                    absl::StrJoin(names, " or ")));
}

// transformers 5 writes rope_parameters {rope_type, rope_theta, factor, ...}; older configs
// have rope_theta (and partial_rotary_factor) at the top and rope_scaling {type or
// rope_type, ...}. Given both, transformers takes rope_scaling.
absl::Status FamilyReader::Rope(const FamilyDefaults& d, const RopeRules& rules, DecoderConfig& c) {
  ASSIGN_OR_RETURN(c.rope.theta, r_.Number("rope_theta", d.rope_theta, 1e-9));
  ASSIGN_OR_RETURN(c.rope.partial_rotary_factor,
                   r_.Number("partial_rotary_factor", 1.0, 1e-9, 1.0));
  const bool scaling = Present("rope_scaling") && !json_["rope_scaling"].empty();
  const char* key = scaling ? "rope_scaling" : "rope_parameters";
  r_.Ignore({"rope_scaling", "rope_parameters"});
  if (!Present(key)) return RopeObject(nullptr, rules, c, c.rope);
  if (!json_[key].is_object()) return r_.Error(key, "must be an object or null");
  ASSIGN_OR_RETURN(JsonReader s, r_.Object(key));
  return RopeObject(&s, rules, c, c.rope);
}

absl::Status FamilyReader::RopeObject(JsonReader* s, const RopeRules& rules, const DecoderConfig& c,
                                      RopeConfig& rope) {
  static const nlohmann::json kNoObject = nlohmann::json::object();
  JsonReader none(kNoObject, "", "");
  JsonReader& o = s != nullptr ? *s : none;
  ASSIGN_OR_RETURN(rope.theta, o.Number("rope_theta", rope.theta, 1e-9));
  ASSIGN_OR_RETURN(rope.partial_rotary_factor,
                   o.Number("partial_rotary_factor", rope.partial_rotary_factor, 1e-9, 1.0));
  ASSIGN_OR_RETURN(std::string legacy_type, o.String("type", "default"));
  ASSIGN_OR_RETURN(std::string type, o.String("rope_type", legacy_type));
  const char* type_key = o.Has("rope_type") ? "rope_type" : "type";
  if (rules.yarn_is_longrope && (type == "su" || type == "yarn")) type = "longrope";
  const RopeName* found = nullptr;
  for (const RopeName& n : kRopeNames)
    if (type == n.name) found = &n;
  if (found == nullptr ||
      std::find(rules.types.begin(), rules.types.end(), found->type) == rules.types.end()) {
    return o.Error(type_key, absl::StrCat("is \"", type, "\"; zerod implements ", c.architecture,
                                          " with ", RopeTypeList(rules.types), " RoPE"));
  }
  rope.type = found->type;
  // Where the pre-training length comes from: Phi-3's top-level field, any top-level
  // field (transformers gives it priority), the rope object, else max_position_embeddings.
  ASSIGN_OR_RETURN(int64_t top_original, r_.Int("original_max_position_embeddings", 0, 1));
  auto original_max = [&]() -> absl::StatusOr<int64_t> {
    if (rules.top_level_original_max) return *rules.top_level_original_max;
    if (top_original > 0) return top_original;
    return o.Int("original_max_position_embeddings", c.max_position_embeddings, 1);
  };
  RETURN_IF_ERROR(ReadRopeSettings(o, original_max, rope));
  if (rope.partial_rotary_factor != 1.0 && !rules.partial_rotary) {
    const char* where = o.Has("partial_rotary_factor") ? "partial_rotary_factor" : nullptr;
    const std::string what = absl::StrCat("is ", rope.partial_rotary_factor, "; ", c.architecture,
                                          " rotates all of head_dim: it must be 1");
    return where ? o.Error(where, what) : r_.Error("partial_rotary_factor", what);
  }
  const int64_t rotary =
      static_cast<int64_t>(static_cast<double>(c.head_dim) * rope.partial_rotary_factor);
  if (rotary < 2 || rotary % 2 != 0) {
    return r_.Error("partial_rotary_factor",
                    absl::StrCat(rope.partial_rotary_factor, " of head_dim ", c.head_dim,
                                 " rotates ", rotary, " dimensions; zerod needs an even number"));
  }
  if (rope.type == RopeType::kLongrope) {
    ASSIGN_OR_RETURN(rope.short_factor, Factors(o, "short_factor", rotary / 2));
    ASSIGN_OR_RETURN(rope.long_factor, Factors(o, "long_factor", rotary / 2));
  }
  // The keys of other RoPE types are ignored by transformers; anything else is refused.
  for (const char* k : kRopeKeys) o.Ignore({k});
  for (const std::string& k : o.UnreadKeys()) {
    return o.Error(k, "is not a RoPE setting zerod implements; it would change the positions");
  }
  return absl::OkStatus();
}

absl::Status FamilyReader::ReadLayerTypes(DecoderConfig& c, const std::vector<bool>& defaults) {
  const nlohmann::json* types = r_.Value("layer_types");
  if (types == nullptr) {
    c.sliding_layers = defaults;
    return absl::OkStatus();
  }
  if (!types->is_array() || static_cast<int64_t>(types->size()) != c.num_hidden_layers) {
    return r_.Error("layer_types", absl::StrCat("must list num_hidden_layers ", c.num_hidden_layers,
                                                " layer types, got ", Shown(*types)));
  }
  c.sliding_layers.assign(c.num_hidden_layers, false);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const nlohmann::json& t = (*types)[i];
    if (t == "sliding_attention") {
      c.sliding_layers[i] = true;
    } else if (t != "full_attention") {
      return r_.Error("layer_types", absl::StrCat("[", i, "] is ", Shown(t),
                                                  "; zerod implements \"full_attention\" and "
                                                  "\"sliding_attention\" layers"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> FamilyReader::Window(int64_t def) {
  if (json_.contains("sliding_window") && json_["sliding_window"].is_null()) {
    r_.Ignore({"sliding_window"});
    return 0;
  }
  return r_.Int("sliding_window", def, 1);
}

absl::StatusOr<double> FamilyReader::NumberOrOff(const char* key, double def) {
  if (json_.contains(key) && json_[key].is_null()) {
    r_.Ignore({key});
    return 0.0;
  }
  return r_.Number(key, def, 1e-9);
}

absl::Status FamilyReader::Dropout(std::initializer_list<const char*> keys, DecoderConfig& c) {
  for (const char* key : keys) {
    ASSIGN_OR_RETURN(double p, r_.Number(key, 0.0, 0.0, 1.0));
    c.ignored_dropout = std::max(c.ignored_dropout, p);
  }
  return absl::OkStatus();
}

absl::Status FamilyReader::Require(const char* key, const nlohmann::json& value,
                                   const std::string& why) {
  const nlohmann::json* v = r_.Value(key);
  if (v == nullptr || *v == value) return absl::OkStatus();
  return r_.Error(key, absl::StrCat("is ", Shown(*v), "; ", why));
}

namespace {

bool OnList(const std::string& key, const std::vector<const char*>& list) {
  return std::any_of(list.begin(), list.end(), [&](const char* k) { return key == k; });
}

}  // namespace

absl::Status RefuseQuantized(const JsonReader& r, const nlohmann::json& v) {
  const std::string method =
      v.is_object() && v.contains("quant_method") ? Shown(v["quant_method"]) : Shown(v);
  return r.Error("quantization_config",
                 absl::StrCat("says the checkpoint is quantized (quant_method ", method,
                              "); zerod trains float32, float16 or bfloat16 weights: dequantize "
                              "it first (transformers' model.dequantize(), then save_pretrained)"));
}

absl::Status RefuseUnreadKeys(
    const nlohmann::json& json, const JsonReader& r, const std::string& architecture,
    const std::vector<const char*>& harmless,
    const std::vector<std::pair<const char*, nlohmann::json>>& harmless_if) {
  static const std::vector<const char*> shared(std::begin(kHarmless), std::end(kHarmless));
  for (const std::string& key : r.UnreadKeys()) {
    const nlohmann::json& v = json[key];
    if (v.is_null() || OnList(key, shared) || OnList(key, harmless)) continue;
    bool allowed = false;
    for (const auto& [k, value] : harmless_if) allowed = allowed || (key == k && v == value);
    if (allowed) continue;
    if (key == "quantization_config") return RefuseQuantized(r, v);
    std::string hint;
    if (std::string near = r.NearestReadKey(key); !near.empty())
      hint = absl::StrCat(" (did you mean \"", near, "\"?)");
    return r.Error(key, absl::StrCat("is ", Shown(v), hint, "; zerod's ", architecture,
                                     " does not read this key and does not know it to be "
                                     "harmless, so it may change the model's math: zerod "
                                     "refuses rather than train something else. Remove it "
                                     "from config.json if it does not change the model"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DecoderConfig> ParseDecoderFamily(const nlohmann::json& json, const Family& f,
                                                 const std::string& source) {
  config::JsonReader outer(json, source);
  // A quantized checkpoint says so at the top, even when the text model is nested.
  if (json.contains("quantization_config") && !json["quantization_config"].is_null())
    return RefuseQuantized(outer, json["quantization_config"]);
  ASSIGN_OR_RETURN(std::string model_type, outer.String("model_type", f.model_type));
  const nlohmann::json* object = &json;
  std::string path;
  if (model_type != f.model_type) {
    // transformers' from_pretrained on a composite config: the nested object whose
    // model_type is the family's (Gemma 3's text_config).
    for (auto it = json.begin(); it != json.end() && path.empty(); ++it) {
      if (it->is_object() && it->value("model_type", "") == f.model_type) {
        object = &*it;
        path = it.key();
      }
    }
    if (path.empty()) {
      return outer.Error("model_type", absl::StrCat("is \"", model_type, "\"; ", f.architecture,
                                                    " expects \"", f.model_type, "\""));
    }
  }
  JsonReader r(*object, source, path);
  (void)r.String("model_type", f.model_type);
  FamilyReader fr(*object, r, source);
  DecoderConfig c;
  c.architecture = f.architecture;
  c.norms = f.norms;
  RETURN_IF_ERROR(fr.Shapes(f.defaults, c));
  RETURN_IF_ERROR(f.read(fr, f, c));
  RETURN_IF_ERROR(RefuseUnreadKeys(*object, r, f.architecture, f.harmless, f.harmless_if));
  return c;
}

BlockNorms PreNorms() {
  return {"input_layernorm.weight", "", "post_attention_layernorm.weight", ""};
}
BlockNorms PostNorms() {
  return {"", "post_attention_layernorm.weight", "", "post_feedforward_layernorm.weight"};
}
BlockNorms SandwichNorms() {
  return {"input_layernorm.weight", "post_attention_layernorm.weight",
          "pre_feedforward_layernorm.weight", "post_feedforward_layernorm.weight"};
}

const std::vector<const Family*>& Families() {
  static const std::vector<const Family*> families = {
      &kLlamaFamily,   &kMistralFamily,  &kQwen2Family,    &kQwen3Family,
      &kOlmo2Family,   &kPhi3Family,     &kGemma2Family,   &kGemma3Family,
      &kMixtralFamily, &kQwen2MoeFamily, &kQwen3MoeFamily, &kOlmoeFamily};
  return families;
}

const Family* FindFamily(const std::string& architecture) {
  for (const Family* f : Families())
    if (architecture == f->architecture) return f;
  return nullptr;
}

std::string SupportedArchitectures() {
  std::vector<std::string> names;
  for (const Family* f : Families()) names.push_back(f->architecture);
  names.push_back("GPT2LMHeadModel");
  return absl::StrJoin(names, ", ");
}

}  // namespace zerod::models
