// A model family as data: which config.json keys its transformers class reads, what they
// switch in the one decoder (decoder_config.h), what it calls its checkpoint tensors, and
// which of the keys it does not read are known to be harmless. Each family is one short
// description in engine/models/families/; adding a dense family that combines existing
// switches is one more description (and its fixture, tests/fixtures/make_model_fixtures.py).
//
// Reading a config (ParseDecoderFamily) is: the family's read function takes the keys it
// honours through a FamilyReader, with transformers' defaults for absent keys; every key
// left unread must be on the shared or the family's harmless list (ids, dtype hints,
// use_cache, ...), or the config is refused naming the key and its value. So a key that
// would change the math is honoured or refused, never dropped. Torch-free.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/config/json_reader.h"
#include "engine/models/decoder_config.h"
#include "nlohmann/json.hpp"

namespace zerod::models {

// transformers' defaults for keys a config.json may leave out (the config class's fields).
struct FamilyDefaults {
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 0;  // 0: num_attention_heads
  int64_t head_dim = 0;             // 0: hidden_size / num_attention_heads
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  int64_t pad_token_id = -1;  // -1: None
};

// What the reading of a config's RoPE may accept.
struct RopeRules {
  bool partial_rotary = false;  // the family's attention rotates only part of head_dim
  // Every RoPE type, unless the family's transformers class accepts fewer (Phi-3: default
  // and longrope, with "su" and "yarn" read as longrope).
  std::vector<RopeType> types = {RopeType::kDefault, RopeType::kLinear, RopeType::kLlama3,
                                 RopeType::kDynamic, RopeType::kYarn,   RopeType::kLongrope};
  bool yarn_is_longrope = false;
  // Phi-3's top-level original_max_position_embeddings (transformers gives it priority
  // over the rope object's); absent: the rope object's, else max_position_embeddings.
  std::optional<int64_t> top_level_original_max;
};

// The keys of one config.json object and the accessors a family description reads them
// with. Errors name the key ("config.json: rope_parameters.rope_type is \"foo\"; ...").
class FamilyReader {
 public:
  FamilyReader(const nlohmann::json& json, config::JsonReader& r, std::string source)
      : json_(json), r_(r), source_(std::move(source)) {}

  config::JsonReader& keys() { return r_; }
  const nlohmann::json& json() const { return json_; }
  bool Present(const char* key) const;  // present and not null
  // A reader of `object` (which must outlive it) named `key`.`sub` in errors: for objects
  // a family builds itself (Gemma 3's merged RoPE objects).
  config::JsonReader Nested(const nlohmann::json& object, const std::string& key,
                            const std::string& sub) const;

  // Shapes, norm epsilon, init range, tied embeddings, the padding token.
  absl::Status Shapes(const FamilyDefaults& d, DecoderConfig& c);
  // attention_bias: biases on q, k, v and o_proj alike (Llama, Qwen3, OLMo 2, Gemma).
  absl::Status AttentionBias(DecoderConfig& c);
  // `key` (hidden_act, hidden_activation) must name an activation in `accepted`.
  absl::Status Act(const char* key, const char* def,
                   std::initializer_list<std::pair<const char*, Activation>> accepted,
                   DecoderConfig& c);
  // rope_theta, partial_rotary_factor, rope_parameters / rope_scaling (new and legacy form)
  // into c.rope.
  absl::Status Rope(const FamilyDefaults& d, const RopeRules& rules, DecoderConfig& c);
  // One RoPE object (or none: the defaults) into `rope`; `path` names it in errors.
  absl::Status RopeObject(config::JsonReader* object, const RopeRules& rules,
                          const DecoderConfig& c, RopeConfig& rope);
  // layer_types ("full_attention" / "sliding_attention" per layer) into c.sliding_layers;
  // absent: `default_sliding(i)` for layer i.
  template <typename F>
  absl::Status LayerTypes(DecoderConfig& c, F default_sliding);
  // sliding_window in tokens: `def` when absent, 0 when null (no window).
  absl::StatusOr<int64_t> Window(int64_t def);
  // A positive setting whose null means "off" (the soft-capping values): `def` when absent,
  // 0 when null.
  absl::StatusOr<double> NumberOrOff(const char* key, double def);
  // The largest of the dropout keys given: zerod trains without dropout (a note says so).
  absl::Status Dropout(std::initializer_list<const char*> keys, DecoderConfig& c);
  // `key` must be absent, null or `value`: a setting zerod implements only that way.
  absl::Status Require(const char* key, const nlohmann::json& value, const std::string& why);

 private:
  absl::Status ReadLayerTypes(DecoderConfig& c, const std::vector<bool>& defaults);
  const nlohmann::json& json_;
  config::JsonReader& r_;
  std::string source_;
};

template <typename F>
absl::Status FamilyReader::LayerTypes(DecoderConfig& c, F default_sliding) {
  std::vector<bool> defaults(c.num_hidden_layers);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) defaults[i] = default_sliding(i);
  return ReadLayerTypes(c, defaults);
}

struct Family {
  const char* architecture;  // "Qwen3ForCausalLM"
  const char* model_type;    // "qwen3"
  FamilyDefaults defaults;
  // Reads the keys the family honours and sets the switches its architecture fixes.
  absl::Status (*read)(FamilyReader& r, const Family& f, DecoderConfig& c);
  BlockNorms norms;  // which norms a block has, by their checkpoint names
  // Keys the family's transformers class does not read or that do not change training,
  // accepted with any value; and keys accepted only with one value (Phi-4's
  // "lm_head_bias": false, which transformers ignores).
  std::vector<const char*> harmless;
  std::vector<std::pair<const char*, nlohmann::json>> harmless_if;
};

// Every family, in the order error messages list them.
const std::vector<const Family*>& Families();
// "LlamaForCausalLM, MistralForCausalLM, ..., GPT2LMHeadModel": what zerod trains.
std::string SupportedArchitectures();

// The family of `architecture`, or null.
const Family* FindFamily(const std::string& architecture);

// Parses `json` (config.json, already parsed) as `family`. A composite config whose
// model_type is not the family's is read from the nested object that has it (Gemma 3's
// text_config), as transformers' from_pretrained does. InvalidArgument naming the key.
absl::StatusOr<DecoderConfig> ParseDecoderFamily(const nlohmann::json& json, const Family& family,
                                                 const std::string& source);

// After a config's reader took what the model honours: every other key of `object` must be
// null or harmless (the shared list: ids, dtype hints, use_cache, ...; then `harmless`, or
// `harmless_if` with exactly that value), else InvalidArgument naming the key and value.
// quantization_config gets its own refusal (RefuseQuantized).
absl::Status RefuseUnreadKeys(
    const nlohmann::json& object, const config::JsonReader& r, const std::string& architecture,
    const std::vector<const char*>& harmless,
    const std::vector<std::pair<const char*, nlohmann::json>>& harmless_if);
// InvalidArgument: `quantization_config` (value `v`) says the checkpoint is quantized.
absl::Status RefuseQuantized(const config::JsonReader& r, const nlohmann::json& v);

// Block norm layouts shared by several families.
BlockNorms PreNorms();       // Llama: before attention and before the MLP
BlockNorms PostNorms();      // OLMo 2: after attention and after the MLP
BlockNorms SandwichNorms();  // Gemma 2 and 3: all four

// The families (families/*.cpp).
extern const Family kLlamaFamily, kMistralFamily, kQwen2Family, kQwen3Family, kOlmo2Family,
    kPhi3Family, kGemma2Family, kGemma3Family;
// The mixtures of experts (families/moe_common.h).
extern const Family kMixtralFamily, kQwen2MoeFamily, kQwen3MoeFamily, kOlmoeFamily;

}  // namespace zerod::models
