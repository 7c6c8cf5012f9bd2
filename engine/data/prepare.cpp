#include "engine/data/prepare.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/util/files.h"
#include "nlohmann/json.hpp"

namespace zerod::data {

absl::StatusOr<int64_t> PrepareByteTokens(const std::string& input, const std::string& output) {
  std::ifstream in(input, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--input ", input, " cannot be read"));
  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  if (!out)
    return absl::PermissionDeniedError(absl::StrCat("--output ", output, " cannot be written"));
  std::vector<char> bytes(1 << 20);
  std::vector<uint16_t> tokens;
  int64_t total = 0;
  while (in) {
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const std::streamsize n = in.gcount();
    tokens.resize(static_cast<size_t>(n));
    for (std::streamsize i = 0; i < n; ++i) tokens[i] = static_cast<unsigned char>(bytes[i]);
    // Token files are little-endian; so is every machine zerod builds for (x86-64, arm64).
    out.write(reinterpret_cast<const char*>(tokens.data()), n * 2);
    total += n;
  }
  if (!out) return absl::InternalError(absl::StrCat("writing ", output, " failed"));
  return total;
}

namespace {

// The parsed JSON file, null when it does not exist; an error when it is not JSON.
absl::StatusOr<nlohmann::json> ReadOptionalJson(const std::string& path) {
  const std::optional<std::string> text = ReadFileToString(path);
  if (!text) return nlohmann::json();
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON: ", e.what()));
  }
}

// Appends ids to a token file in the chosen width.
class TokenWriter {
 public:
  TokenWriter(std::ofstream* out, TokenDType dtype) : out_(out), dtype_(dtype) {}
  void Write(const std::vector<int32_t>& ids) {
    // Token files are little-endian; so is every machine zerod builds for (x86-64, arm64).
    if (dtype_ == TokenDType::kUInt16) {
      narrow_.assign(ids.begin(), ids.end());
      out_->write(reinterpret_cast<const char*>(narrow_.data()),
                  static_cast<std::streamsize>(narrow_.size() * 2));
    } else {
      out_->write(reinterpret_cast<const char*>(ids.data()),
                  static_cast<std::streamsize>(ids.size() * 4));
    }
  }

 private:
  std::ofstream* out_;
  TokenDType dtype_;
  std::vector<uint16_t> narrow_;
};

}  // namespace

absl::StatusOr<int32_t> EosTokenId(const std::string& model_dir, const Tokenizer& tokenizer) {
  const std::string config_path = JoinPath(model_dir, "config.json");
  auto config = ReadOptionalJson(config_path);
  if (!config.ok()) return config.status();
  if (config->is_object() && config->contains("eos_token_id")) {
    nlohmann::json eos = (*config)["eos_token_id"];
    // Chat models list several (Llama-3-Instruct: [128001, 128008, 128009]); the first is
    // the end of text.
    if (eos.is_array() && !eos.empty()) eos = eos[0];
    if (eos.is_number_integer() && eos.get<int64_t>() >= 0 &&
        eos.get<int64_t>() < tokenizer.vocab_size())
      return eos.get<int32_t>();
    if (!eos.is_null())
      return absl::InvalidArgumentError(absl::StrCat(
          config_path, ": eos_token_id is ", (*config)["eos_token_id"].dump(),
          "; expected an id below the tokenizer's vocabulary size ", tokenizer.vocab_size()));
  }
  const std::string tc_path = JoinPath(model_dir, "tokenizer_config.json");
  auto tc = ReadOptionalJson(tc_path);
  if (!tc.ok()) return tc.status();
  if (tc->is_object() && tc->contains("eos_token") && !(*tc)["eos_token"].is_null()) {
    const nlohmann::json& eos = (*tc)["eos_token"];
    // Either "</s>" or an AddedToken object {"content": "</s>", ...}.
    std::string content;
    if (eos.is_string()) {
      content = eos.get<std::string>();
    } else if (eos.is_object() && eos.contains("content") && eos["content"].is_string()) {
      content = eos["content"].get<std::string>();
    }
    if (auto id = tokenizer.TokenToId(content); id.has_value() && !content.empty()) return *id;
    return absl::InvalidArgumentError(
        absl::StrCat(tc_path, ": eos_token ", eos.dump(), " is not a token of tokenizer.json"));
  }
  return absl::NotFoundError(
      absl::StrCat("no end-of-document token: neither ", config_path, " has eos_token_id nor ",
                   tc_path, " has eos_token; add \"eos_token_id\": ID to config.json"));
}

absl::StatusOr<PrepareSummary> PrepareTokenizedData(
    const PrepareOptions& options, const std::function<void(const PrepareProgress&)>& progress) {
  auto tokenizer = Tokenizer::FromFile(JoinPath(options.model_dir, "tokenizer.json"));
  if (!tokenizer.ok()) return tokenizer.status();
  PrepareSummary summary;
  summary.vocab_size = (*tokenizer)->vocab_size();
  auto eos = EosTokenId(options.model_dir, **tokenizer);
  if (!eos.ok()) return eos.status();
  summary.eos_id = *eos;
  summary.dtype = summary.vocab_size <= 65536 ? TokenDType::kUInt16 : TokenDType::kUInt32;

  std::ifstream in(options.input, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat("--input ", options.input, " cannot be read"));
  PrepareProgress state;
  state.bytes_total = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  std::ofstream out(options.output, std::ios::binary | std::ios::trunc);
  if (!out)
    return absl::PermissionDeniedError(
        absl::StrCat("--output ", options.output, " cannot be written"));
  TokenWriter writer(&out, summary.dtype);
  std::vector<int32_t> ids;
  auto report = [&] {
    if (progress) progress(state);
  };
  // Tokenizes one document that starts at input byte `offset`, EOS after it.
  auto encode_document = [&](std::string_view text, int64_t offset) {
    ids.clear();
    (*tokenizer)->Encode(text, &ids, [&](size_t done) {
      state.bytes_done = offset + static_cast<int64_t>(done);
      report();
    });
    ids.push_back(summary.eos_id);
    writer.Write(ids);
    state.tokens += static_cast<int64_t>(ids.size());
    state.documents += 1;
  };

  if (absl::EndsWith(options.input, ".jsonl")) {
    std::string line;
    int64_t line_number = 0, offset = 0;
    while (std::getline(in, line)) {
      ++line_number;
      const int64_t line_start = offset;
      offset += static_cast<int64_t>(line.size()) + 1;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json doc;
      try {
        doc = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        return absl::InvalidArgumentError(
            absl::StrCat(options.input, ":", line_number, ": not a JSON object: ", e.what()));
      }
      if (!doc.is_object() || !doc.contains("text") || !doc["text"].is_string())
        return absl::InvalidArgumentError(absl::StrCat(options.input, ":", line_number,
                                                       ": no \"text\" string field in this line"));
      encode_document(doc["text"].get_ref<const std::string&>(), line_start);
      state.bytes_done = std::min(offset, state.bytes_total);
      report();
    }
    state.bytes_done = state.bytes_total;  // trailing blank lines
    report();
  } else {
    std::string text(static_cast<size_t>(state.bytes_total), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    encode_document(text, 0);
    state.bytes_done = state.bytes_total;
    report();
  }
  if (in.bad())
    return absl::DataLossError(absl::StrCat("reading --input ", options.input, " failed"));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("writing ", options.output, " failed"));
  summary.documents = state.documents;
  summary.tokens = state.tokens;
  return summary;
}

}  // namespace zerod::data
