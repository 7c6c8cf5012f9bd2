#include "engine/data/sample_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/util/check.h"
#include "engine/util/durable.h"
#include "engine/util/status_macros.h"

namespace zerod::data {
namespace {

constexpr char kMagic[8] = {'Z', 'S', 'A', 'M', 'P', 'L', 'E', '1'};
constexpr uint32_t kVersion = 1;

// The fixed part of <path>.samples, as written (little-endian, no padding between fields
// beyond what this layout has: 8 + 4 + 4 + 8 + 8 + 8 = 40 bytes).
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t token_bytes;
  int64_t vocab_size;
  int64_t num_samples;
  int64_t num_tokens;
};
static_assert(sizeof(Header) == 40);

std::string IndexPath(const std::string& path) { return path + ".samples"; }

// A read-only mapping of a whole file, unmapped when it goes.
struct Mapping {
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  ~Mapping() {
    if (data != nullptr) ::munmap(const_cast<uint8_t*>(data), bytes);
  }
};

absl::Status Map(const std::string& path, Mapping& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("prepared dataset file ", path,
                                            " cannot be opened: ", std::strerror(errno),
                                            "; prepare it again with zerod --prepare-data"));
  }
  struct stat st {};
  ::fstat(fd, &st);
  out.bytes = static_cast<size_t>(st.st_size);
  if (out.bytes == 0) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat("prepared dataset file ", path, " is empty"));
  }
  void* map = ::mmap(nullptr, out.bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    out.bytes = 0;
    return absl::InternalError(absl::StrCat("mmap of ", path, " failed: ", std::strerror(errno)));
  }
  out.data = static_cast<const uint8_t*>(map);
  return absl::OkStatus();
}

absl::Status Corrupt(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("prepared dataset ", IndexPath(path), ": ", what,
                                                 "; prepare it again with zerod --prepare-data"));
}

absl::Status WriteAll(std::FILE* f, const void* data, size_t bytes, const std::string& path) {
  if (bytes > 0 && std::fwrite(data, 1, bytes, f) != bytes) {
    return absl::InternalError(absl::StrCat("writing ", path, " failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

// ---- MemorySampleSet ----

void MemorySampleSet::Add(std::vector<int32_t> tokens, std::vector<uint8_t> trained) {
  ZEROD_CHECK(tokens.size() == trained.size());
  num_tokens_ += static_cast<int64_t>(tokens.size());
  tokens_.push_back(std::move(tokens));
  trained_.push_back(std::move(trained));
}

int64_t MemorySampleSet::num_samples() const { return static_cast<int64_t>(tokens_.size()); }
int64_t MemorySampleSet::num_tokens() const { return num_tokens_; }
int64_t MemorySampleSet::SampleLength(int64_t i) const {
  return static_cast<int64_t>(tokens_.at(i).size());
}
void MemorySampleSet::Sample(int64_t i, std::vector<int32_t>& tokens,
                             std::vector<uint8_t>& trained) const {
  tokens = tokens_.at(i);
  trained = trained_.at(i);
}

// ---- SampleFileWriter ----

struct SampleFileWriter::State {
  std::string path;
  std::string tokens_tmp, index_tmp, trained_tmp;  // the index is the header + offsets, then
                                                   // the flags appended on Finish
  std::FILE* tokens = nullptr;
  std::FILE* trained = nullptr;
  TokenDType dtype = TokenDType::kUInt16;
  int64_t vocab_size = 0;
  std::vector<int64_t> offsets{0};
  bool finished = false;
};

absl::StatusOr<std::unique_ptr<SampleFileWriter>> SampleFileWriter::Create(const std::string& path,
                                                                           TokenDType dtype,
                                                                           int64_t vocab_size) {
  std::unique_ptr<SampleFileWriter> w(new SampleFileWriter());
  w->state_ = std::make_unique<State>();
  State& s = *w->state_;
  s.path = path;
  s.dtype = dtype;
  s.vocab_size = vocab_size;
  const std::string suffix = ".tmp" + std::to_string(::getpid());
  s.tokens_tmp = path + suffix;
  s.index_tmp = IndexPath(path) + suffix;
  s.trained_tmp = IndexPath(path) + ".flags" + suffix;
  s.tokens = std::fopen(s.tokens_tmp.c_str(), "wb");
  s.trained = s.tokens ? std::fopen(s.trained_tmp.c_str(), "wb") : nullptr;
  if (s.tokens == nullptr || s.trained == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write the prepared dataset ", path,
                                                    ": ", std::strerror(errno),
                                                    "; choose an --output in a writable folder"));
  }
  return w;
}

SampleFileWriter::~SampleFileWriter() {
  if (!state_) return;
  if (state_->tokens) std::fclose(state_->tokens);
  if (state_->trained) std::fclose(state_->trained);
  std::remove(state_->trained_tmp.c_str());
  if (!state_->finished) {
    std::remove(state_->tokens_tmp.c_str());
    std::remove(state_->index_tmp.c_str());
  }
}

absl::Status SampleFileWriter::Add(const std::vector<int32_t>& tokens,
                                   const std::vector<uint8_t>& trained) {
  State& s = *state_;
  if (tokens.size() != trained.size()) {
    return absl::InvalidArgumentError(absl::StrCat("sample ", s.offsets.size() - 1, " has ",
                                                   tokens.size(), " tokens but ", trained.size(),
                                                   " label flags"));
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t t = tokens[i];
    if (t < 0 || t >= s.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("sample ", s.offsets.size() - 1,
                                                     " holds token id ", t,
                                                     ", outside the vocabulary of ", s.vocab_size));
    }
    if (s.dtype == TokenDType::kUInt16) {
      const uint16_t v = static_cast<uint16_t>(t);
      RETURN_IF_ERROR(WriteAll(s.tokens, &v, sizeof(v), s.tokens_tmp));
    } else {
      const uint32_t v = static_cast<uint32_t>(t);
      RETURN_IF_ERROR(WriteAll(s.tokens, &v, sizeof(v), s.tokens_tmp));
    }
    const uint8_t flag = trained[i] ? 1 : 0;
    RETURN_IF_ERROR(WriteAll(s.trained, &flag, 1, s.trained_tmp));
  }
  s.offsets.push_back(s.offsets.back() + static_cast<int64_t>(tokens.size()));
  return absl::OkStatus();
}

absl::Status SampleFileWriter::Finish() {
  State& s = *state_;
  if (s.offsets.size() < 2 || s.offsets.back() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the prepared dataset ", s.path, " would hold no tokens"));
  }
  const bool closed = std::fclose(s.tokens) == 0;
  s.tokens = nullptr;
  const bool closed_flags = std::fclose(s.trained) == 0;
  s.trained = nullptr;
  if (!closed || !closed_flags) {
    return absl::InternalError(absl::StrCat("writing ", s.path, " failed: ", std::strerror(errno)));
  }
  // The index: header, offsets, then the flags copied in.
  std::FILE* index = std::fopen(s.index_tmp.c_str(), "wb");
  if (index == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", s.index_tmp, ": ", std::strerror(errno)));
  }
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kVersion;
  h.token_bytes = s.dtype == TokenDType::kUInt16 ? 2 : 4;
  h.vocab_size = s.vocab_size;
  h.num_samples = static_cast<int64_t>(s.offsets.size()) - 1;
  h.num_tokens = s.offsets.back();
  absl::Status written = WriteAll(index, &h, sizeof(h), s.index_tmp);
  if (written.ok()) {
    written = WriteAll(index, s.offsets.data(), s.offsets.size() * sizeof(int64_t), s.index_tmp);
  }
  if (std::FILE* flags = written.ok() ? std::fopen(s.trained_tmp.c_str(), "rb") : nullptr) {
    char buffer[1 << 16];
    for (size_t n; written.ok() && (n = std::fread(buffer, 1, sizeof(buffer), flags)) > 0;) {
      written = WriteAll(index, buffer, n, s.index_tmp);
    }
    std::fclose(flags);
  }
  if (std::fclose(index) != 0 && written.ok()) {
    written = absl::InternalError(absl::StrCat("writing ", s.index_tmp, " failed"));
  }
  RETURN_IF_ERROR(written);
  // Durable, then published: the tokens first, so that a .samples file never names tokens
  // that are not there.
  RETURN_IF_ERROR(SyncPath(s.tokens_tmp));
  RETURN_IF_ERROR(SyncPath(s.index_tmp));
  std::error_code ec;
  std::filesystem::rename(s.tokens_tmp, s.path, ec);
  if (!ec) std::filesystem::rename(s.index_tmp, IndexPath(s.path), ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("publishing the prepared dataset ", s.path, " failed: ", ec.message()));
  }
  RETURN_IF_ERROR(SyncPath(ParentDir(s.path)));
  s.finished = true;
  return absl::OkStatus();
}

// ---- SampleFile ----

struct SampleFile::State {
  std::string path;
  Mapping tokens, index;
  Header header{};
  const int64_t* offsets = nullptr;  // (num_samples + 1)
  const uint8_t* trained = nullptr;  // (num_tokens)
};

bool SampleFile::Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(IndexPath(path), ec);
}

absl::StatusOr<std::unique_ptr<SampleFile>> SampleFile::Open(const std::string& path,
                                                             int64_t vocab_size) {
  std::unique_ptr<SampleFile> f(new SampleFile());
  f->state_ = std::make_unique<State>();
  State& s = *f->state_;
  s.path = path;
  RETURN_IF_ERROR(Map(IndexPath(path), s.index));
  RETURN_IF_ERROR(Map(path, s.tokens));
  if (s.index.bytes < sizeof(Header)) return Corrupt(path, "shorter than its header");
  std::memcpy(&s.header, s.index.data, sizeof(Header));
  const Header& h = s.header;
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) {
    return Corrupt(path, "does not start with ZSAMPLE1 (not a zerod prepared dataset)");
  }
  if (h.version != kVersion) {
    return Corrupt(path, absl::StrCat("has version ", h.version, "; this zerod reads ", kVersion));
  }
  if (h.token_bytes != 2 && h.token_bytes != 4) {
    return Corrupt(path, absl::StrCat("says tokens are ", h.token_bytes, " bytes (2 or 4)"));
  }
  if (h.num_samples <= 0 || h.num_tokens <= 0) return Corrupt(path, "holds no samples");
  const size_t want = sizeof(Header) + static_cast<size_t>(h.num_samples + 1) * sizeof(int64_t) +
                      static_cast<size_t>(h.num_tokens);
  if (s.index.bytes != want) {
    return Corrupt(path, absl::StrCat("has ", s.index.bytes, " bytes; its header implies ", want));
  }
  if (s.tokens.bytes != static_cast<size_t>(h.num_tokens) * h.token_bytes) {
    return Corrupt(path, absl::StrCat("names ", h.num_tokens, " tokens of ", h.token_bytes,
                                      " bytes, but ", path, " has ", s.tokens.bytes, " bytes"));
  }
  if (h.vocab_size > vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prepared dataset ", path, " was tokenized for a vocabulary of ", h.vocab_size,
        " ids; the model has ", vocab_size, ": prepare it with this model's tokenizer"));
  }
  s.offsets = reinterpret_cast<const int64_t*>(s.index.data + sizeof(Header));
  s.trained = s.index.data + sizeof(Header) + (h.num_samples + 1) * sizeof(int64_t);
  if (s.offsets[0] != 0 || s.offsets[h.num_samples] != h.num_tokens) {
    return Corrupt(path, "its offsets do not run from 0 to the token count");
  }
  for (int64_t i = 0; i < h.num_samples; ++i) {
    if (s.offsets[i + 1] < s.offsets[i]) {
      return Corrupt(path, absl::StrCat("sample ", i, "'s offsets go backwards"));
    }
  }
  // Every id against the model, as TokenDataset does: a wrong tokenizer fails here, not
  // inside the embedding.
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  for (int64_t i = 0; i < h.num_samples; ++i) {
    f->Sample(i, tokens, trained);
    for (size_t k = 0; k < tokens.size(); ++k) {
      if (tokens[k] < 0 || tokens[k] >= vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("prepared dataset ", path, ": sample ", i, " holds token id ", tokens[k],
                         ", outside the model's vocabulary of ", vocab_size,
                         "; prepare it with this model's tokenizer"));
      }
    }
  }
  return f;
}

SampleFile::~SampleFile() = default;

int64_t SampleFile::num_samples() const { return state_->header.num_samples; }
int64_t SampleFile::num_tokens() const { return state_->header.num_tokens; }
int64_t SampleFile::SampleLength(int64_t i) const {
  ZEROD_CHECK(i >= 0 && i < num_samples());
  return state_->offsets[i + 1] - state_->offsets[i];
}

void SampleFile::Sample(int64_t i, std::vector<int32_t>& tokens,
                        std::vector<uint8_t>& trained) const {
  ZEROD_CHECK(i >= 0 && i < num_samples());
  const State& s = *state_;
  const int64_t begin = s.offsets[i], end = s.offsets[i + 1];
  tokens.resize(static_cast<size_t>(end - begin));
  trained.assign(s.trained + begin, s.trained + end);
  for (int64_t k = begin; k < end; ++k) {
    uint32_t v = 0;
    std::memcpy(&v, s.tokens.data + k * s.header.token_bytes, s.header.token_bytes);
    tokens[static_cast<size_t>(k - begin)] = static_cast<int32_t>(v);
  }
}

}  // namespace zerod::data
