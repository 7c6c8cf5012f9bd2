// The checkpoint directory (engine/checkpoint/checkpoint_dir.h): its file names, the
// metadata round trip and every refusal of a damaged zerod_checkpoint.json (naming the file
// and the field), and the staging protocol that never leaves a half-written checkpoint
// where a complete one is looked for. Through a training job: tests/train/checkpoint_test.cpp;
// ParseMeta under a fuzzer: tests/fuzz/checkpoint_meta_fuzz.cpp.
#include "engine/checkpoint/checkpoint_dir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/util/files.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace zerod::checkpoint {
namespace {

using zerod::testing::TempDir;
using zerod::testing::WriteText;

// The names in `dir`, sorted; empty when it cannot be read.
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names = ListDirectory(dir).value_or(std::vector<std::string>{});
  std::sort(names.begin(), names.end());
  return names;
}

bool Contains(const absl::Status& s, const std::string& part) {
  return s.message().find(part) != std::string::npos;
}

CheckpointMeta SomeMeta(int64_t step) {
  CheckpointMeta m;
  m.step = step;
  m.lr_iteration = step - 3;  // three skipped steps
  m.world_size = 4;
  m.num_parameters = (int64_t{1} << 33) + 5;  // beyond int32
  m.dtype = "bfloat16";
  m.loss_scale = 1.0 / 3.0;  // not a short decimal: the text must round-trip it exactly
  m.hysteresis_left = 2;
  m.scaler_iteration = step + 11;
  m.last_overflow_iteration = -1;  // never overflowed
  return m;
}

// A model directory holding only config.json, which WriteMeta copies.
std::string ModelDir(const TempDir& tmp) {
  const std::string dir = tmp.File("model");
  EXPECT_TRUE(MakeDirectories(dir).ok());
  WriteText(JoinPath(dir, "config.json"), R"({"model_type": "llama", "hidden_size": 32})");
  return dir;
}

// A complete checkpoint at `dir`, through the same steps as Job::SaveCheckpoint.
void SaveCheckpoint(const std::string& dir, const std::string& model_dir, int64_t step) {
  ASSERT_TRUE(PrepareStaging(dir).ok());
  WriteText(RankStateFile(StagingDir(dir), 0, 1), "rank state");
  ASSERT_TRUE(WriteMeta(StagingDir(dir), SomeMeta(step), model_dir).ok());
  ASSERT_TRUE(Publish(dir).ok());
}

TEST(CheckpointDirTest, FileNamesCarryRankAndWorldSizeZeroPadded) {
  EXPECT_EQ(StagingDir("/ck/last"), "/ck/last.partial");
  EXPECT_EQ(RankStateFile("/ck", 3, 16), "/ck/rank_00003_of_00016.safetensors");
  EXPECT_EQ(PeriodicCheckpointDir("/save", 42), "/save/step_00000042");
}

TEST(CheckpointDirTest, PeriodicCheckpointNamesSortAsTheirSteps) {
  const std::vector<int64_t> steps = {9, 10, 99, 100, 12345678};
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    EXPECT_LT(PeriodicCheckpointDir("/s", steps[i]), PeriodicCheckpointDir("/s", steps[i + 1]));
  }
}

TEST(CheckpointDirTest, WrittenMetadataReadsBackFieldForField) {
  TempDir tmp;
  const std::string staging = tmp.File("ck");
  ASSERT_TRUE(MakeDirectories(staging).ok());
  const CheckpointMeta m = SomeMeta(1000);
  ASSERT_TRUE(WriteMeta(staging, m, ModelDir(tmp)).ok());
  auto back = ReadMeta(staging);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->step, m.step);
  EXPECT_EQ(back->lr_iteration, m.lr_iteration);
  EXPECT_EQ(back->world_size, m.world_size);
  EXPECT_EQ(back->num_parameters, m.num_parameters);
  EXPECT_EQ(back->dtype, m.dtype);
  EXPECT_EQ(back->loss_scale, m.loss_scale);  // exactly, not nearly
  EXPECT_EQ(back->hysteresis_left, m.hysteresis_left);
  EXPECT_EQ(back->scaler_iteration, m.scaler_iteration);
  EXPECT_EQ(back->last_overflow_iteration, m.last_overflow_iteration);
}

// The checkpoint describes its own model: config.json is copied byte for byte.
TEST(CheckpointDirTest, WriteMetaCopiesTheModelsConfig) {
  TempDir tmp;
  const std::string staging = tmp.File("ck");
  ASSERT_TRUE(MakeDirectories(staging).ok());
  const std::string model = ModelDir(tmp);
  ASSERT_TRUE(WriteMeta(staging, SomeMeta(1), model).ok());
  EXPECT_EQ(ReadFileToString(JoinPath(staging, "config.json")),
            ReadFileToString(JoinPath(model, "config.json")));
}

TEST(CheckpointDirTest, WriteMetaWithoutTheModelsConfigFailsNamingIt) {
  TempDir tmp;
  const std::string staging = tmp.File("ck"), model = tmp.File("empty_model");
  ASSERT_TRUE(MakeDirectories(staging).ok());
  ASSERT_TRUE(MakeDirectories(model).ok());
  const absl::Status s = WriteMeta(staging, SomeMeta(1), model);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(Contains(s, JoinPath(model, "config.json"))) << s;
}

TEST(CheckpointDirTest, ADirectoryWithoutMetadataIsNotACheckpoint) {
  TempDir tmp;
  WriteText(tmp.File("rank_00000_of_00001.safetensors"), "rank state");
  auto meta = ReadMeta(tmp.path());
  ASSERT_FALSE(meta.ok());
  EXPECT_EQ(meta.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(meta.status(), tmp.path())) << meta.status();
  EXPECT_TRUE(Contains(meta.status(), "zerod_checkpoint.json")) << meta.status();
}

// Rank files written, metadata not yet (rank 0 writes it last, after every rank): neither
// DIR nor DIR.partial reads as a checkpoint. Once published, DIR does and the staging
// directory is gone.
TEST(CheckpointDirTest, AHalfWrittenCheckpointIsNotTakenAsComplete) {
  TempDir tmp;
  const std::string dir = tmp.File("ck");
  ASSERT_TRUE(PrepareStaging(dir).ok());
  EXPECT_FALSE(IsDirectory(dir));
  EXPECT_TRUE(Entries(StagingDir(dir)).empty());
  WriteText(RankStateFile(StagingDir(dir), 0, 2), "rank 0");
  WriteText(RankStateFile(StagingDir(dir), 1, 2), "rank 1");
  EXPECT_EQ(ReadMeta(dir).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadMeta(StagingDir(dir)).status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(WriteMeta(StagingDir(dir), SomeMeta(5), ModelDir(tmp)).ok());
  ASSERT_TRUE(Publish(dir).ok());
  auto meta = ReadMeta(dir);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, 5);
  EXPECT_FALSE(IsDirectory(StagingDir(dir)));
  EXPECT_EQ(Entries(dir),
            (std::vector<std::string>{"config.json", "rank_00000_of_00002.safetensors",
                                      "rank_00001_of_00002.safetensors", "zerod_checkpoint.json"}));
}

// What a crashed save left in DIR.partial is not carried into the next one.
TEST(CheckpointDirTest, PrepareStagingEmptiesWhatACrashedSaveLeft) {
  TempDir tmp;
  const std::string dir = tmp.File("ck");
  ASSERT_TRUE(MakeDirectories(StagingDir(dir)).ok());
  WriteText(RankStateFile(StagingDir(dir), 3, 4), "stale");
  WriteText(JoinPath(StagingDir(dir), "config.json"), "{}");
  ASSERT_TRUE(PrepareStaging(dir).ok());
  EXPECT_TRUE(IsDirectory(StagingDir(dir)));
  EXPECT_TRUE(Entries(StagingDir(dir)).empty());
}

// What a crashed save cannot have left (a directory of someone's) is not removed: the
// save refuses (tests/checkpoint/output_dir_test.cpp has the other cases).
TEST(CheckpointDirTest, PrepareStagingRemovesNothingItDidNotWrite) {
  TempDir tmp;
  const std::string dir = tmp.File("ck");
  ASSERT_TRUE(MakeDirectories(JoinPath(StagingDir(dir), "sub")).ok());
  EXPECT_EQ(PrepareStaging(dir).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsDirectory(JoinPath(StagingDir(dir), "sub")));
}

// Saving again over DIR: the new checkpoint replaces the old one's files, the periodic
// checkpoints inside DIR (SAVE_DIR/step_N) move into the new DIR, and no DIR.old or
// DIR.partial is left.
TEST(CheckpointDirTest, PublishReplacesTheCheckpointAndKeepsThePeriodicOnesInside) {
  TempDir tmp;
  const std::string dir = tmp.File("save"), model = ModelDir(tmp);
  SaveCheckpoint(dir, model, 10);
  ASSERT_TRUE(MakeDirectories(PeriodicCheckpointDir(dir, 10)).ok());
  WriteText(JoinPath(PeriodicCheckpointDir(dir, 10), "zerod_checkpoint.json"), "periodic");
  WriteText(JoinPath(dir, "rank_00000_of_00008.safetensors"), "from an older world size");

  SaveCheckpoint(dir, model, 20);
  auto meta = ReadMeta(dir);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, 20);
  EXPECT_EQ(Entries(dir),
            (std::vector<std::string>{"config.json", "rank_00000_of_00001.safetensors",
                                      "step_00000010", "zerod_checkpoint.json"}));
  EXPECT_EQ(ReadFileToString(JoinPath(PeriodicCheckpointDir(dir, 10), "zerod_checkpoint.json")),
            "periodic");
  EXPECT_EQ(Entries(tmp.path()), (std::vector<std::string>{"model", "save"}));
}

// Publish with nothing staged fails and puts the previous checkpoint back where it was.
TEST(CheckpointDirTest, AFailedPublishKeepsThePreviousCheckpoint) {
  TempDir tmp;
  const std::string dir = tmp.File("ck");
  SaveCheckpoint(dir, ModelDir(tmp), 7);
  const absl::Status s = Publish(dir);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s, StagingDir(dir))) << s;
  auto meta = ReadMeta(dir);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, 7);
  EXPECT_FALSE(IsDirectory(dir + ".old"));
}

// A crash between the swap's two renames (DIR -> DIR.old done, DIR.partial -> DIR not):
// reading DIR names DIR.old as the last complete checkpoint, and the next save puts it
// back before swapping, so neither it nor its periodic checkpoints are ever removed.
TEST(CheckpointDirTest, ACrashBetweenTheSwapsRenamesLosesNothing) {
  TempDir tmp;
  const std::string dir = tmp.File("save"), model = ModelDir(tmp);
  SaveCheckpoint(dir, model, 7);
  ASSERT_TRUE(MakeDirectories(PeriodicCheckpointDir(dir, 5)).ok());
  ASSERT_EQ(::rename(dir.c_str(), PreviousDir(dir).c_str()), 0);  // the crash

  const auto read = ReadMeta(dir);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(read.status(), "the last complete checkpoint is " + PreviousDir(dir)))
      << read.status();

  SaveCheckpoint(dir, model, 9);
  auto meta = ReadMeta(dir);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, 9);
  EXPECT_TRUE(IsDirectory(PeriodicCheckpointDir(dir, 5)));
  EXPECT_EQ(Entries(tmp.path()), (std::vector<std::string>{"model", "save"}));
}

// A crash after the swap, before DIR.old's periodic checkpoints moved: finishing the
// publish moves them into DIR, then removes DIR.old.
TEST(CheckpointDirTest, ACrashAfterTheSwapKeepsThePeriodicCheckpoints) {
  TempDir tmp;
  const std::string dir = tmp.File("save"), model = ModelDir(tmp);
  SaveCheckpoint(PreviousDir(dir), model, 7);
  ASSERT_TRUE(MakeDirectories(PeriodicCheckpointDir(PreviousDir(dir), 5)).ok());
  WriteText(JoinPath(PeriodicCheckpointDir(PreviousDir(dir), 5), "zerod_checkpoint.json"), "p");
  SaveCheckpoint(dir, model, 9);  // its Publish finishes the interrupted one first

  auto meta = ReadMeta(dir);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->step, 9);
  EXPECT_EQ(ReadFileToString(JoinPath(PeriodicCheckpointDir(dir, 5), "zerod_checkpoint.json")),
            "p");
  EXPECT_FALSE(IsDirectory(PreviousDir(dir)));
}

// Past step 99999999 the names grow a digit; pruning orders by step, not by name, and a
// name that is not step_ and digits is not a checkpoint.
TEST(CheckpointDirTest, KeepNewestOrdersByStepPastEightDigits) {
  TempDir tmp;
  const std::string save = tmp.path();
  for (int64_t step : {99'999'999, 100'000'000, 100'000'001}) {
    ASSERT_TRUE(MakeDirectories(PeriodicCheckpointDir(save, step)).ok());
  }
  ASSERT_TRUE(MakeDirectories(tmp.File("step_abcdefgh")).ok());
  ASSERT_TRUE(KeepNewestCheckpoints(save, 2).ok());
  EXPECT_EQ(Entries(save),
            (std::vector<std::string>{"step_100000000", "step_100000001", "step_abcdefgh"}));
}

// Only finished periodic checkpoints (step_ and 8 digits, directories) count: one still
// being written (.partial), other directories and a file of such a name are left alone.
TEST(CheckpointDirTest, KeepNewestRemovesOnlyTheOlderPeriodicCheckpoints) {
  TempDir tmp;
  const std::string save = tmp.path();
  for (int64_t step : {1, 2, 9, 10}) {
    ASSERT_TRUE(MakeDirectories(PeriodicCheckpointDir(save, step)).ok());
    WriteText(RankStateFile(PeriodicCheckpointDir(save, step), 0, 1), "state");
  }
  ASSERT_TRUE(MakeDirectories(StagingDir(PeriodicCheckpointDir(save, 11))).ok());
  ASSERT_TRUE(MakeDirectories(tmp.File("logs")).ok());
  WriteText(PeriodicCheckpointDir(save, 0), "a file, not a checkpoint");

  ASSERT_TRUE(KeepNewestCheckpoints(save, 2).ok());
  EXPECT_EQ(Entries(save), (std::vector<std::string>{"logs", "step_00000000", "step_00000009",
                                                     "step_00000010", "step_00000011.partial"}));
}

// keep below 1 is taken as 1: pruning never removes a job's last checkpoint.
TEST(CheckpointDirTest, KeepNewestNeverRemovesTheNewestCheckpoint) {
  TempDir tmp;
  for (int64_t step : {3, 4}) {
    ASSERT_TRUE(MakeDirectories(PeriodicCheckpointDir(tmp.path(), step)).ok());
  }
  ASSERT_TRUE(KeepNewestCheckpoints(tmp.path(), 0).ok());
  EXPECT_EQ(Entries(tmp.path()), (std::vector<std::string>{"step_00000004"}));
}

// A valid zerod_checkpoint.json, as WriteMeta writes it.
nlohmann::json ValidMetaJson() {
  return {{"format", 1},
          {"step", 10},
          {"lr_iteration", 9},
          {"world_size", 2},
          {"num_parameters", 1000},
          {"dtype", "float16"},
          {"loss_scaler",
           {{"scale", 65536.0},
            {"hysteresis_left", 2},
            {"iteration", 10},
            {"last_overflow_iteration", -1}}}};
}

constexpr char kPath[] = "/ck/zerod_checkpoint.json";

TEST(CheckpointDirTest, ParseMetaAcceptsTheExtremesOfEachRange) {
  nlohmann::json j = ValidMetaJson();
  j["step"] = INT64_MAX;
  j["world_size"] = INT_MAX;
  j["loss_scaler"]["last_overflow_iteration"] = -1;
  j["loss_scaler"]["scale"] = 1e-30;
  auto m = ParseMeta(j.dump(), kPath);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->step, INT64_MAX);
  EXPECT_EQ(m->world_size, INT_MAX);
  EXPECT_EQ(m->last_overflow_iteration, -1);
  EXPECT_EQ(m->loss_scale, 1e-30);
}

struct BadMeta {
  const char* what;         // the damage, for the failure message
  std::string text;         // the file
  std::string names_field;  // the message names it ("" when the file as a whole is wrong)
};

// A file that a crash, a full disk or a person damaged is refused as InvalidArgument naming
// the file and the field, never misread (a float or an out-of-range integer converted).
TEST(CheckpointDirTest, ParseMetaRefusesEachDamagedFieldNamingFileAndField) {
  // ValidMetaJson with the field at `keys` (a path into nested objects) set or removed.
  auto with = [](const std::vector<std::string>& keys, const nlohmann::json& value) {
    nlohmann::json j = ValidMetaJson();
    nlohmann::json* at = &j;
    for (size_t i = 0; i + 1 < keys.size(); ++i) at = &(*at)[keys[i]];
    (*at)[keys.back()] = value;
    return j.dump();
  };
  auto without = [](const std::vector<std::string>& keys) {
    nlohmann::json j = ValidMetaJson();
    nlohmann::json* at = &j;
    for (size_t i = 0; i + 1 < keys.size(); ++i) at = &(*at)[keys[i]];
    at->erase(keys.back());
    return j.dump();
  };
  const std::vector<BadMeta> cases = {
      {"not JSON", "{\"format\": 1,", ""},
      {"empty", "", ""},
      {"an array", "[1, 2]", ""},
      {"another format", with({"format"}, 2), "format 2 is not 1"},
      {"no format", without({"format"}), "format is missing"},
      {"no step", without({"step"}), "step is missing"},
      {"negative step", with({"step"}, -1), "step is -1"},
      {"fractional step", with({"step"}, 1.5), "step is 1.5"},
      {"huge float step", with({"step"}, 1e30), "step is 1e+30"},
      {"step past int64", with({"step"}, UINT64_MAX), "step is 18446744073709551615"},
      {"step as text", with({"step"}, "10"), "step is \"10\""},
      {"negative lr_iteration", with({"lr_iteration"}, -2), "lr_iteration is -2"},
      {"world size 0", with({"world_size"}, 0), "world_size is 0"},
      {"world size past int", with({"world_size"}, int64_t{1} << 31), "world_size is 2147483648"},
      {"no num_parameters", without({"num_parameters"}), "num_parameters is missing"},
      {"dtype a number", with({"dtype"}, 16), "dtype must be a string"},
      {"no loss_scaler", without({"loss_scaler"}), "loss_scaler must be an object"},
      {"loss_scaler a number", with({"loss_scaler"}, 1.0), "loss_scaler must be an object"},
      {"scale 0", with({"loss_scaler", "scale"}, 0.0), "loss_scaler.scale is 0.0"},
      {"negative scale", with({"loss_scaler", "scale"}, -1.0), "loss_scaler.scale is -1.0"},
      {"scale as text", with({"loss_scaler", "scale"}, "1"), "loss_scaler.scale is \"1\""},
      {"no scale", without({"loss_scaler", "scale"}), "loss_scaler.scale is missing"},
      {"negative hysteresis", with({"loss_scaler", "hysteresis_left"}, -1),
       "loss_scaler.hysteresis_left is -1"},
      {"no iteration", without({"loss_scaler", "iteration"}), "loss_scaler.iteration is missing"},
      {"overflow before -1", with({"loss_scaler", "last_overflow_iteration"}, -2),
       "loss_scaler.last_overflow_iteration is -2"},
  };
  for (const BadMeta& c : cases) {
    auto m = ParseMeta(c.text, kPath);
    ASSERT_FALSE(m.ok()) << c.what << ": accepted " << c.text;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_TRUE(Contains(m.status(), kPath)) << c.what << ": " << m.status();
    EXPECT_TRUE(Contains(m.status(), c.names_field)) << c.what << ": " << m.status();
  }
}

// ReadMeta is ParseMeta over DIR/zerod_checkpoint.json: a damaged file's error names it.
TEST(CheckpointDirTest, ReadMetaOfADamagedFileNamesTheFile) {
  TempDir tmp;
  nlohmann::json j = ValidMetaJson();
  j["world_size"] = -4;
  WriteText(tmp.File("zerod_checkpoint.json"), j.dump());
  auto meta = ReadMeta(tmp.path());
  ASSERT_FALSE(meta.ok());
  EXPECT_EQ(meta.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(meta.status(), tmp.File("zerod_checkpoint.json") + ": world_size is -4"))
      << meta.status();
}

}  // namespace
}  // namespace zerod::checkpoint
