// Writing a model back as a Hugging Face directory: config.json plus safetensors,
// split into several files with model.safetensors.index.json once they pass 5 GB (what
// transformers' save_pretrained does). Tensors are streamed in: the header of each file
// is known from names, dtypes and shapes alone, so a unit's tensors can be written as
// soon as they are gathered and dropped after. Torch-free.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/models/safetensors.h"
#include "engine/util/dtype.h"

namespace zerod::checkpoint {

// MODEL_DIR/config.json with its dtype set to the exported weights' (key order kept): the
// key it has ("dtype", else "torch_dtype"), and never both; just that key when the file
// cannot be read.
std::string ExportedConfigJson(const std::string& model_dir, DType dtype);

class HfExportWriter {
 public:
  // Plans the files for `tensors` (in the order they will be appended). Files hold at
  // most `max_file_bytes` of tensor data each (a larger tensor gets a file of its own).
  HfExportWriter(std::string dir, std::vector<models::TensorSpec> tensors,
                 uint64_t max_file_bytes = 5'000'000'000ull);
  ~HfExportWriter();

  // Creates the directory and writes config.json (`config_json` text as given). Refuses
  // a directory that holds anything but an earlier export (checkpoint/output_dir.h).
  absl::Status Begin(const std::string& config_json);
  // After Begin: copies the tokenizer and generation files (output_dir.h CompanionFiles)
  // that `from_dir` holds (the model directory, or a checkpoint, which carries them), so
  // that the export loads in AutoTokenizer as well as AutoModelForCausalLM.
  absl::Status AddCompanionFiles(const std::string& from_dir);
  // Appends the next tensor's bytes, in plan order, after Begin() succeeded (checked).
  absl::Status Append(const std::string& name, const void* bytes);
  // Closes the files, writes the index when there is more than one, and renames every
  // file from its .partial name (config.json last). Until then, and after any failure
  // (the destructor removes the .partial files), the directory holds no new export.
  absl::Status Finish();

 private:
  absl::Status OpenFile(size_t file);
  absl::Status WriteIndex();
  absl::Status RemoveStaleWeights() const;

  std::string dir_;
  bool begun_ = false;  // Begin() succeeded
  std::vector<models::TensorSpec> tensors_;
  std::vector<size_t> file_of_;  // tensor -> file
  std::vector<std::string> file_names_;
  size_t next_ = 0;  // next tensor to append
  size_t open_file_ = SIZE_MAX;
  std::ofstream out_;
  std::vector<std::string> written_;  // names begun, config.json first (as .partial)
  bool finished_ = false;
};

}  // namespace zerod::checkpoint
